import { adminRoute } from '../admin-route.js';
import { Type } from '@sinclair/typebox';
import { Cursor, IdParams, Limit, MemberCreate, MemberList, MemberPatch, MemberRecord } from '../schemas.js';
import { actorOf, type App, type Services } from '../types.js';

const HIERARCHY =
  "Needs every permission of the member's role (and of a new role) and a scope that includes the member's team; the last owner can be neither removed nor demoted (409).";

/** Members (`admin:manage`): people with a role who sign in to the console by SSO. */
export function memberRoutes(app: App, s: Services): void {
  app.post('/v1/members', {
    ...adminRoute(
      'admin:manage',
      {
        tags: ['members'],
        summary: 'Add a member: a person with a role, optionally limited to one team',
        description: 'Nobody grants a role whose permissions they do not all hold; an owner is global.',
        body: MemberCreate,
        response: { 201: MemberRecord },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req, reply) => reply.code(201).send(await s.members.create(actorOf(req), req.body)),
  });
  app.get('/v1/members', {
    ...adminRoute(
      'admin:manage',
      {
        tags: ['members'],
        summary: 'Members, newest first',
        querystring: Type.Object(
          { limit: Type.Optional(Limit), cursor: Type.Optional(Cursor) },
          { additionalProperties: false },
        ),
        response: { 200: MemberList },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.members.list(actorOf(req), req.query.limit ?? 50, req.query.cursor),
  });
  app.get('/v1/members/:id', {
    ...adminRoute(
      'admin:manage',
      { tags: ['members'], params: IdParams, response: { 200: MemberRecord } },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.members.get(actorOf(req), req.params.id),
  });
  app.patch('/v1/members/:id', {
    ...adminRoute(
      'admin:manage',
      {
        tags: ['members'],
        summary: "Change a member's role, team or name; a narrower role applies to their sessions at once",
        description: HIERARCHY,
        params: IdParams,
        body: MemberPatch,
        response: { 200: MemberRecord },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.members.update(actorOf(req), req.params.id, req.body),
  });
  app.delete('/v1/members/:id', {
    ...adminRoute(
      'admin:manage',
      {
        tags: ['members'],
        summary: 'Remove a member; their console sessions end at once',
        description: HIERARCHY,
        params: IdParams,
        response: { 200: MemberRecord },
      },
      { errors: [400, 404, 409, 422] },
    ),
    handler: async (req) => s.members.remove(actorOf(req), req.params.id),
  });
}
