import { adminRoute } from '../admin-route.js';
import { Type } from '@sinclair/typebox';
import { NARROWING_MAX_DAYS, NARROWING_MIN_DAYS } from '../../core/narrowing.js';
import { PERMISSION_PATTERN } from '../../core/permissions.js';
import { IdParams } from '../schemas.js';
import { actorOf, type App, type Services } from '../types.js';

/** The narrower set's request (`POST /v1/keys/{id}/narrowing`). */
export const NarrowingStart = Type.Object(
  {
    permissions: Type.Array(Type.String({ pattern: PERMISSION_PATTERN, maxLength: 300 }), {
      maxItems: 100,
      description: "the narrower set: a subset of the key's effective permissions (422 otherwise)",
    }),
    days: Type.Integer({
      minimum: NARROWING_MIN_DAYS,
      maximum: NARROWING_MAX_DAYS,
      description: 'length of the shadow period',
    }),
    autoApply: Type.Optional(
      Type.Boolean({ description: 'apply the narrower set when the period ends with nothing refused' }),
    ),
  },
  { additionalProperties: false },
);

const Example = Type.Object({
  at: Type.String({ description: "first call of the log row's minute" }),
  lastAt: Type.String(),
  permission: Type.Union([Type.String(), Type.Null()], {
    description: 'the permission the narrower set lacks',
  }),
  resource: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  environment: Type.String(),
  count: Type.Integer({ description: 'calls in this row' }),
});

/** A key's narrowing and what its shadow period has seen. */
export const NarrowingStatus = Type.Object({
  keyId: Type.String(),
  permissions: Type.Array(Type.String()),
  startedAt: Type.String({ format: 'date-time' }),
  endsAt: Type.String({ format: 'date-time' }),
  autoApply: Type.Boolean(),
  state: Type.Union([Type.Literal('shadow'), Type.Literal('ready'), Type.Literal('refused')], {
    description:
      'shadow: the period runs; ready: it ended with nothing refused (not applied); refused: it ended with calls the narrower set would have refused',
  }),
  startedBy: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  refused: Type.Union([Type.Integer(), Type.Null()]),
  wouldHaveRefused: Type.Integer({ description: 'calls the narrower set would have refused' }),
  examples: Type.Array(Example, { description: 'the newest of them (verification log rows marked shadow)' }),
});

/** Narrowing safely (docs/narrowing.md): a shadow period for a narrower permission set. */
export function narrowingRoutes(app: App, s: Services): void {
  app.post('/v1/keys/:id/narrowing', {
    ...adminRoute(
      'keys:write',
      {
        tags: ['keys'],
        summary: 'Start a shadow period for a narrower permission set',
        params: IdParams,
        body: NarrowingStart,
        response: { 201: NarrowingStatus },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req, reply) =>
      reply.code(201).send(await s.narrowing.start(actorOf(req), req.params.id, req.body)),
  });
  app.get('/v1/keys/:id/narrowing', {
    ...adminRoute(
      'keys:read',
      {
        tags: ['keys'],
        summary: "A key's narrowing: its set, period and the calls it would have refused",
        params: IdParams,
        response: { 200: NarrowingStatus },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.narrowing.show(actorOf(req), req.params.id),
  });
  app.delete('/v1/keys/:id/narrowing', {
    ...adminRoute(
      'keys:write',
      {
        tags: ['keys'],
        summary: "Cancel a key's narrowing (the key keeps its permissions)",
        params: IdParams,
        response: { 204: Type.Null() },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req, reply) => {
      await s.narrowing.cancel(actorOf(req), req.params.id);
      return reply.code(204).send(null);
    },
  });
}
