import { Type } from '@sinclair/typebox';
import {
  IdParams,
  KeyCreate,
  KeyList,
  KeyListQuery,
  KeyPatch,
  KeyRecord,
  KeyWithSecret,
  ReasonBody,
} from '../schemas.js';
import { adminRoute } from '../admin-route.js';
import { actorOf, type App, type Services } from '../types.js';

/** The key page's record: the key, plus its open rotation grace window when there is one. */
const KeyRecordWithRotation = Type.Composite([
  KeyRecord,
  Type.Object({
    rotation: Type.Optional(
      Type.Object(
        {
          replacedAt: Type.String({ format: 'date-time' }),
          previousExpiresAt: Type.String({
            format: 'date-time',
            description: 'the previous secret keeps working until then',
          }),
        },
        { description: 'present while a previous secret is in its rotation grace window' },
      ),
    ),
  }),
]);

/** The key lifecycle: create, list, get, patch, disable/enable, delete (SPEC §3). */
export function keyRoutes(app: App, s: Services): void {
  app.post('/v1/keys', {
    ...adminRoute(
      'keys:write',
      {
        tags: ['keys'],
        summary: 'Create a key; the plaintext key is in this response only',
        body: KeyCreate,
        response: { 201: KeyWithSecret },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req, reply) => reply.code(201).send(await s.keys.create(actorOf(req), req.body)),
  });

  app.get('/v1/keys', {
    ...adminRoute(
      'keys:read',
      {
        tags: ['keys'],
        summary: 'List keys',
        querystring: KeyListQuery,
        response: { 200: KeyList },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => {
      const { limit = 50, cursor, ...filter } = req.query;
      return s.keys.list(actorOf(req), filter, limit, cursor);
    },
  });

  app.get('/v1/keys/:id', {
    ...adminRoute(
      'keys:read',
      {
        tags: ['keys'],
        summary: 'One key',
        params: IdParams,
        response: { 200: KeyRecordWithRotation },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.keys.getWithRotation(actorOf(req), req.params.id),
  });

  app.post('/v1/keys/:id/end-grace', {
    ...adminRoute(
      'keys:rotate',
      {
        tags: ['keys'],
        summary: 'End a rotation grace window now: the previous secret stops working at once',
        params: IdParams,
        response: { 200: KeyRecord },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.keys.endGrace(actorOf(req), req.params.id),
  });

  app.patch('/v1/keys/:id', {
    ...adminRoute(
      'keys:write',
      {
        tags: ['keys'],
        summary: 'Change a key (name, owner, permissions, limits, credits, expiry, allowlist, metadata)',
        params: IdParams,
        body: KeyPatch,
        response: { 200: KeyRecord },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.keys.update(actorOf(req), req.params.id, req.body),
  });

  for (const action of ['disable', 'enable'] as const) {
    app.post(`/v1/keys/:id/${action}`, {
      ...adminRoute(
        'keys:write',
        {
          tags: ['keys'],
          summary: action === 'disable' ? 'Disable a key at once (reversible)' : 'Enable a disabled key',
          params: IdParams,
          body: ReasonBody,
          response: { 200: KeyRecord },
        },
        { errors: [400, 404, 409, 422] },
      ),
      handler: async (req) =>
        s.keys.setEnabled(actorOf(req), req.params.id, action === 'enable', req.body?.reason),
    });
  }

  app.delete('/v1/keys/:id', {
    ...adminRoute(
      'keys:write',
      {
        tags: ['keys'],
        summary: 'Reclaim a key: permanently invalid, record and history kept',
        params: IdParams,
        response: { 200: KeyRecord },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.keys.remove(actorOf(req), req.params.id),
  });

  app.post('/v1/keys/:id/regenerate', {
    ...adminRoute(
      'keys:rotate',
      {
        tags: ['keys'],
        summary: 'New secret, same id and configuration; the old one may live on for a grace period',
        params: IdParams,
        body: Type.Optional(
          Type.Object(
            {
              gracePeriodSeconds: Type.Optional(
                Type.Integer({ minimum: 0, maximum: 30 * 86_400, default: 0 }),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        response: { 200: KeyWithSecret },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.keys.regenerate(actorOf(req), req.params.id, req.body?.gracePeriodSeconds ?? 0),
  });
}
