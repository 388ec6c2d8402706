import type { TSchema } from '@sinclair/typebox';
import type { AdminPermission } from '../core/model.js';
import { scopeDescription, type RouteScope } from './authorize.js';
import { Problem } from './schemas.js';

/** The bearer scheme of every admin route, as `openapi.ts` declares it. */
const BEARER: { bearerAuth: string[] }[] = [{ bearerAuth: [] }];

/** What every admin route may answer without asking: no or a bad key, a missing permission or team. */
export const ADMIN_ROUTE_ERRORS = { 401: Problem, 403: Problem };

/** The refusals a route adds to 401/403 (each a problem+json answer). */
export type Refusal = 400 | 404 | 409 | 422;

interface AdminSchema {
  description?: string;
  response: Record<number, TSchema>;
}

type WithErrors<S extends AdminSchema, E extends Refusal> = Omit<S, 'response' | 'description'> & {
  security: typeof BEARER;
  description: string;
  response: S['response'] & typeof ADMIN_ROUTE_ERRORS & { [K in E]: typeof Problem };
};

/**
 * The `config` and `schema` of an admin route, spread into its options: the permission it needs
 * and its team boundary (app.ts authenticates and checks them before anything else runs), and in
 * OpenAPI the bearer scheme, the permission in words, and the 401/403 problems with the route's
 * own refusals (`errors`: 400 where a query, body or path parameter is validated, 404, 409, 422).
 * @example app.get('/v1/keys', { ...adminRoute('keys:read', { summary: 'List keys', response: { 200: KeyList } }, { errors: [400, 404] }), handler })
 */
export function adminRoute<S extends AdminSchema, E extends Refusal = never>(
  permission: AdminPermission,
  schema: S,
  opts: { scope?: RouteScope; errors?: readonly E[] } = {},
): { config: { permission: AdminPermission; scope?: RouteScope }; schema: WithErrors<S, E> } {
  const errors = Object.fromEntries((opts.errors ?? []).map((status) => [status, Problem]));
  const scope = opts.scope ?? {};
  const own = schema.description === undefined ? '' : ` ${schema.description}`;
  return {
    config: opts.scope === undefined ? { permission } : { permission, scope: opts.scope },
    schema: {
      ...schema,
      security: BEARER,
      description: `Requires the admin permission \`${permission}\`.${scopeDescription(scope)}${own}`,
      response: { ...ADMIN_ROUTE_ERRORS, ...errors, ...schema.response } as WithErrors<S, E>['response'],
    },
  };
}
