import { Type } from '@sinclair/typebox';
import {
  Cursor,
  IdParams,
  Limit,
  MemberCreate,
  MemberList,
  MemberPatch,
  MemberRecord,
  Problem,
} from '../schemas.js';
import { actorOf, type App, type Services } from '../types.js';

const HIERARCHY =
  "Needs every permission of the member's role (and of a new role) and a scope that includes the member's team; the last owner can be neither removed nor demoted (409).";
const errors = { 400: Problem, 404: Problem, 409: Problem, 422: Problem };

/** Members (`admin:manage`): people with a role who sign in to the console by SSO. */
export function memberRoutes(app: App, s: Services): void {
  const config = { permission: 'admin:manage' as const };
  app.post('/v1/members', {
    config,
    schema: {
      tags: ['members'],
      summary: 'Add a member: a person with a role, optionally limited to one team',
      description: 'Nobody grants a role whose permissions they do not all hold; an owner is global.',
      body: MemberCreate,
      response: { 201: MemberRecord, ...errors },
    },
    handler: async (req, reply) => reply.code(201).send(await s.members.create(actorOf(req), req.body)),
  });
  app.get('/v1/members', {
    config,
    schema: {
      tags: ['members'],
      summary: 'Members, newest first',
      querystring: Type.Object(
        { limit: Type.Optional(Limit), cursor: Type.Optional(Cursor) },
        { additionalProperties: false },
      ),
      response: { 200: MemberList, ...errors },
    },
    handler: async (req) => s.members.list(actorOf(req), req.query.limit ?? 50, req.query.cursor),
  });
  app.get('/v1/members/:id', {
    config,
    schema: { tags: ['members'], params: IdParams, response: { 200: MemberRecord, ...errors } },
    handler: async (req) => s.members.get(actorOf(req), req.params.id),
  });
  app.patch('/v1/members/:id', {
    config,
    schema: {
      tags: ['members'],
      summary: "Change a member's role, team or name; a narrower role applies to their sessions at once",
      description: HIERARCHY,
      params: IdParams,
      body: MemberPatch,
      response: { 200: MemberRecord, ...errors },
    },
    handler: async (req) => s.members.update(actorOf(req), req.params.id, req.body),
  });
  app.delete('/v1/members/:id', {
    config,
    schema: {
      tags: ['members'],
      summary: 'Remove a member; their console sessions end at once',
      description: HIERARCHY,
      params: IdParams,
      response: { 200: MemberRecord, ...errors },
    },
    handler: async (req) => s.members.remove(actorOf(req), req.params.id),
  });
}
