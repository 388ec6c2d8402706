import { adminRoute } from '../admin-route.js';
import type { ErrorObject } from 'ajv';
import type { ImportItem } from '../../services/import-service.js';
import {
  KeyImport,
  KeyImportItem,
  KeyImportResult,
  Role,
  RoleCreate,
  RoleList,
  RoleParams,
  RolePatch,
} from '../schemas.js';
import { formatValidationErrors, validatorCompiler } from '../validation.js';
import { actorOf, type App, type Services } from '../types.js';

/**
 * Roles (docs/roles.md): deployment-wide, so changing one needs a global admin key with
 * keys:write (`scope.global`); any admin key with keys:read reads them (to assign them).
 */
export function roleRoutes(app: App, s: Services): void {
  app.post('/v1/roles', {
    ...adminRoute(
      'keys:write',
      {
        tags: ['roles'],
        summary: 'Create a role: a named set of permissions keys can hold',
        body: RoleCreate,
        response: { 201: Role },
      },
      { scope: { global: true }, errors: [400, 404, 409, 422] },
    ),
    handler: async (req, reply) => reply.code(201).send(await s.roles.create(actorOf(req), req.body)),
  });

  app.get('/v1/roles', {
    ...adminRoute(
      'keys:read',
      { tags: ['roles'], summary: 'List roles', response: { 200: RoleList } },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async () => s.roles.list(),
  });

  app.get('/v1/roles/:name', {
    ...adminRoute(
      'keys:read',
      { tags: ['roles'], summary: 'One role', params: RoleParams, response: { 200: Role } },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.roles.get(req.params.name),
  });

  app.patch('/v1/roles/:name', {
    ...adminRoute(
      'keys:write',
      {
        tags: ['roles'],
        summary: "Change a role; every holding key's verification follows within a second",
        params: RoleParams,
        body: RolePatch,
        response: { 200: Role },
      },
      { scope: { global: true }, errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.roles.update(actorOf(req), req.params.name, req.body),
  });

  app.delete('/v1/roles/:name', {
    ...adminRoute(
      'keys:write',
      {
        tags: ['roles'],
        summary: 'Delete a role no key holds (409 saying how many keys still do)',
        params: RoleParams,
        response: { 200: Role },
      },
      { scope: { global: true }, errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.roles.remove(actorOf(req), req.params.name),
  });
}

const checkItem = validatorCompiler({
  schema: KeyImportItem,
  method: 'POST',
  url: '/v1/keys/import',
  httpPart: 'body',
}) as ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** Importing existing keys (docs/import.md): each item is checked, and imported, on its own. */
export function importRoutes(app: App, s: Services): void {
  app.post('/v1/keys/import', {
    ...adminRoute(
      'keys:write',
      {
        tags: ['keys'],
        summary: 'Import existing keys (plaintext or SHA-256), item by item; at most 1,000 per call',
        body: KeyImport,
        response: { 200: KeyImportResult },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => {
      const items = req.body.keys.map((item, i): ImportItem | { invalid: string } =>
        checkItem(item)
          ? (item as ImportItem)
          : { invalid: formatValidationErrors(checkItem.errors ?? [], `keys[${i}]`).message },
      );
      return s.imports.importKeys(actorOf(req), items);
    },
  });
}
