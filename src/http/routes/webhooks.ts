import { Type } from '@sinclair/typebox';
import { WEBHOOK_EVENTS } from '../../services/webhooks/index.js';
import { Cursor, IdParams, Limit } from '../schemas.js';
import { adminRoute } from '../admin-route.js';
import { actorOf, type App, type Services } from '../types.js';

const Event = Type.Unsafe<(typeof WEBHOOK_EVENTS)[number]>({ type: 'string', enum: [...WEBHOOK_EVENTS] });
const Webhook = Type.Object({
  id: Type.String(),
  url: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  events: Type.Array(Event),
  status: Type.String(),
  createdAt: Type.String(),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  team: Type.Union([Type.String(), Type.Null()], {
    description: 'the team whose key events it receives; null: global (every event)',
  }),
});

/** Webhook endpoints and their delivery log (`admin:manage`). */
export function webhookRoutes(app: App, s: Services): void {
  app.post('/v1/webhooks', {
    ...adminRoute(
      'admin:manage',
      {
        tags: ['webhooks'],
        summary: 'Subscribe a URL to key events; the signing secret is in this response only',
        body: Type.Object(
          {
            url: Type.String({ minLength: 1, maxLength: 2000 }),
            events: Type.Array(Event, { minItems: 1, maxItems: WEBHOOK_EVENTS.length }),
            description: Type.Optional(Type.String({ maxLength: 500 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ secret: Type.String(), record: Webhook }) },
      },
      { errors: [400, 404, 422] },
    ),
    handler: async (req, reply) => reply.code(201).send(await s.webhooks.create(actorOf(req), req.body)),
  });
  app.get('/v1/webhooks', {
    ...adminRoute(
      'admin:manage',
      {
        tags: ['webhooks'],
        response: { 200: Type.Object({ items: Type.Array(Webhook) }) },
      },
      { errors: [400, 404] },
    ),
    handler: async (req) => ({ items: await s.webhooks.list(actorOf(req)) }),
  });
  app.delete('/v1/webhooks/:id', {
    ...adminRoute(
      'admin:manage',
      {
        tags: ['webhooks'],
        params: IdParams,
        response: { 204: Type.Null() },
      },
      { errors: [400, 404] },
    ),
    handler: async (req, reply) => {
      await s.webhooks.remove(actorOf(req), req.params.id);
      return reply.code(204).send(null);
    },
  });
  app.get('/v1/webhooks/:id/deliveries', {
    ...adminRoute(
      'admin:manage',
      {
        tags: ['webhooks'],
        summary: 'Delivery log: status, attempts, last answer',
        params: IdParams,
        querystring: Type.Object(
          { limit: Type.Optional(Limit), cursor: Type.Optional(Cursor) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                id: Type.String(),
                event: Type.String(),
                status: Type.String(),
                attempts: Type.Integer(),
                nextAttemptAt: Type.Union([Type.String(), Type.Null()]),
                lastStatusCode: Type.Union([Type.Integer(), Type.Null()]),
                lastError: Type.Union([Type.String(), Type.Null()]),
                createdAt: Type.String(),
                deliveredAt: Type.Union([Type.String(), Type.Null()]),
                payload: Type.Unknown(),
              }),
            ),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
      { errors: [400, 404] },
    ),
    handler: async (req) =>
      s.webhooks.deliveries(actorOf(req), req.params.id, req.query.limit ?? 50, req.query.cursor),
  });
}
