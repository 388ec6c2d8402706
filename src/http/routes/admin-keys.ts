import {
  AdminKeyCreate,
  AdminKeyList,
  AdminKeyRecord,
  AdminKeyWithSecret,
  Cursor,
  IdParams,
  Limit,
} from '../schemas.js';
import { Type } from '@sinclair/typebox';
import { adminRoute } from '../admin-route.js';
import { actorOf, type App, type Services } from '../types.js';

const HIERARCHY =
  "Needs every permission the target holds and a scope that includes the target's team; the last active global `*` key cannot be disabled or deleted (409).";

/** Admin keys (`admin:manage`): create (shown once), list, get, disable/enable, delete. */
export function adminKeyRoutes(app: App, s: Services): void {
  app.post('/v1/admin-keys', {
    ...adminRoute(
      'admin:manage',
      {
        tags: ['admin-keys'],
        summary:
          'Create an admin key, optionally limited to one team; the plaintext is in this response only',
        body: AdminKeyCreate,
        response: { 201: AdminKeyWithSecret },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req, reply) => reply.code(201).send(await s.admin.create(actorOf(req), req.body)),
  });
  app.get('/v1/admin-keys', {
    ...adminRoute(
      'admin:manage',
      {
        tags: ['admin-keys'],
        querystring: Type.Object(
          { limit: Type.Optional(Limit), cursor: Type.Optional(Cursor) },
          { additionalProperties: false },
        ),
        response: { 200: AdminKeyList },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.admin.list(actorOf(req), req.query.limit ?? 50, req.query.cursor),
  });
  app.get('/v1/admin-keys/:id', {
    ...adminRoute(
      'admin:manage',
      {
        tags: ['admin-keys'],
        params: IdParams,
        response: { 200: AdminKeyRecord },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.admin.get(actorOf(req), req.params.id),
  });
  app.delete('/v1/admin-keys/:id', {
    ...adminRoute(
      'admin:manage',
      {
        tags: ['admin-keys'],
        summary: 'Revoke an admin key for good',
        description: HIERARCHY,
        params: IdParams,
        response: { 200: AdminKeyRecord },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.admin.setStatus(actorOf(req), req.params.id, 'deleted'),
  });
  app.post('/v1/admin-keys/:id/regenerate', {
    ...adminRoute(
      'admin:manage',
      {
        tags: ['admin-keys'],
        summary:
          'New secret for an admin key (same id, permissions, team); the old one stops working now; the plaintext is in this response only',
        description: `${HIERARCHY} Clears a leak mark, so the key may be enabled again.`,
        params: IdParams,
        response: { 200: AdminKeyWithSecret },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.admin.regenerate(actorOf(req), req.params.id),
  });
  for (const action of ['disable', 'enable'] as const) {
    app.post(`/v1/admin-keys/:id/${action}`, {
      ...adminRoute(
        'admin:manage',
        {
          tags: ['admin-keys'],
          description:
            action === 'enable'
              ? `${HIERARCHY} A key whose secret was reported leaked is 409 until regenerated.`
              : HIERARCHY,
          params: IdParams,
          response: { 200: AdminKeyRecord },
        },
        { errors: [400, 404, 409, 422] },
      ),
      handler: async (req) =>
        s.admin.setStatus(actorOf(req), req.params.id, action === 'enable' ? 'active' : 'disabled'),
    });
  }
}
