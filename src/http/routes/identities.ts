import { adminRoute } from '../admin-route.js';
import { Type } from '@sinclair/typebox';
import {
  Identity,
  IdentityCreate,
  IdentityDeleted,
  IdentityList,
  IdentityListQuery,
  IdentityPatch,
  IdentityUsage,
} from '../identity-schemas.js';
import { IdParams } from '../schemas.js';
import { actorOf, type App, type Services } from '../types.js';

/** Identities: a customer's limits and credits shared by its keys (issue 22; docs/identities.md). */
export function identityRoutes(app: App, s: Services): void {
  app.post('/v1/identities', {
    ...adminRoute(
      'keys:write',
      {
        tags: ['identities'],
        summary: 'Create an identity (externalId unique per deployment)',
        body: IdentityCreate,
        response: { 201: Identity },
      },
      { errors: [400, 404, 409] },
    ),
    handler: async (req, reply) => reply.code(201).send(await s.identities.create(actorOf(req), req.body)),
  });

  app.get('/v1/identities', {
    ...adminRoute(
      'keys:read',
      {
        tags: ['identities'],
        summary: 'List identities, newest first',
        querystring: IdentityListQuery,
        response: { 200: IdentityList },
      },
      { errors: [400, 404, 409] },
    ),
    handler: async (req) => {
      const { limit = 50, cursor, ...filter } = req.query;
      return s.identities.list(actorOf(req), filter, limit, cursor);
    },
  });

  app.get('/v1/identities/:id', {
    ...adminRoute(
      'keys:read',
      {
        tags: ['identities'],
        summary: 'One identity',
        params: IdParams,
        response: { 200: Identity },
      },
      { errors: [400, 404, 409] },
    ),
    handler: async (req) => s.identities.get(actorOf(req), req.params.id),
  });

  app.patch('/v1/identities/:id', {
    ...adminRoute(
      'keys:write',
      {
        tags: ['identities'],
        summary:
          "Change an identity (limits, credits, name, owner, metadata); its keys' answers follow on every node",
        params: IdParams,
        body: IdentityPatch,
        response: { 200: Identity },
      },
      { errors: [400, 404, 409] },
    ),
    handler: async (req) => s.identities.update(actorOf(req), req.params.id, req.body),
  });

  app.delete('/v1/identities/:id', {
    ...adminRoute(
      'keys:write',
      {
        tags: ['identities'],
        summary: 'Delete an identity; its keys are unlinked and keep their own limits',
        params: IdParams,
        response: { 200: IdentityDeleted },
      },
      { errors: [400, 404, 409] },
    ),
    handler: async (req) => s.identities.remove(actorOf(req), req.params.id),
  });

  app.get('/v1/identities/:id/usage', {
    ...adminRoute(
      'logs:read',
      {
        tags: ['identities', 'logs'],
        summary: "Verifications per day by outcome, summed over the identity's keys",
        params: IdParams,
        querystring: Type.Object(
          { days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, default: 90 })) },
          { additionalProperties: false },
        ),
        response: { 200: IdentityUsage },
      },
      { errors: [404] },
    ),
    handler: async (req) => s.identities.usage(actorOf(req), req.params.id, req.query.days ?? 90),
  });
}
