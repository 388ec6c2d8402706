import { adminRoute } from '../admin-route.js';
import { Type } from '@sinclair/typebox';
import { Cursor, Limit } from '../schemas.js';
import { actorOf, type App, type Services } from '../types.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

/** One owner mail and how its delivery went. Bodies are not listed (the subject says what it was). */
export const MailDelivery = Type.Object({
  id: Type.String(),
  occasion: Type.String({
    description: 'key.expiring, key.leaked, key.disabled, key.credits_low, key.narrowing_refused or digest',
  }),
  recipient: Type.String(),
  keyId: Nullable(Type.String()),
  subject: Type.String(),
  status: Type.String({ description: 'pending, sent or failed (given up after 8 attempts)' }),
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Type.String()),
  lastError: Nullable(
    Type.String({ description: 'a category: connection_failed, auth_failed, rejected, …' }),
  ),
  createdAt: Type.String(),
  deliveredAt: Nullable(Type.String()),
});

/** The owner mail delivery log (docs/notifications.md), `admin:manage`. */
export function notificationRoutes(app: App, s: Services): void {
  app.get('/v1/notifications/deliveries', {
    ...adminRoute(
      'admin:manage',
      {
        tags: ['webhooks'],
        summary: 'Owner mail delivery log: status, attempts, last error (empty when mail is not configured)',
        querystring: Type.Object(
          { limit: Type.Optional(Limit), cursor: Type.Optional(Cursor) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(MailDelivery), nextCursor: Nullable(Type.String()) }),
        },
      },
      { errors: [400] },
    ),
    handler: async (req) =>
      s.mail === undefined
        ? { items: [], nextCursor: null }
        : s.mail.deliveries(actorOf(req), req.query.limit ?? 50, req.query.cursor),
  });
}
