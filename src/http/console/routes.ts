import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { KeywardenError } from '../../core/errors.js';
import { Problem } from '../schemas.js';
import type { App, Services } from '../types.js';
import { SESSION_COOKIE } from '../../services/console-sessions.js';
import { consoleHeaders } from './headers.js';

const SessionInfo = Type.Object({
  csrfToken: Type.String(),
  expiresAt: Type.String(),
  adminKey: Type.Object({
    id: Type.String(),
    name: Type.String(),
    permissions: Type.Array(Type.String()),
    team: Type.Union([Type.String(), Type.Null()]),
  }),
  member: Type.Union([
    Type.Object({
      id: Type.String(),
      email: Type.String(),
      name: Type.Union([Type.String(), Type.Null()]),
      role: Type.String(),
    }),
    Type.Null(),
  ]),
});

function cookie(req: FastifyRequest, value: string, maxAgeSeconds: number): string {
  const secure = req.protocol === 'https' ? '; Secure' : '';
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
}

/**
 * The console's session endpoints: sign in with an admin key (it is exchanged for an HttpOnly,
 * SameSite=Strict session cookie and never kept by the browser), read the session, sign out.
 */
export function consoleRoutes(app: App, s: Services, maxHours: number): void {
  app.post('/console/api/session', {
    schema: {
      tags: ['console'],
      summary: 'Sign in: exchange an admin key for a console session cookie',
      body: Type.Object(
        { adminKey: Type.String({ minLength: 1, maxLength: 512 }) },
        { additionalProperties: false },
      ),
      response: { 200: SessionInfo, 400: Problem, 401: Problem, 403: Problem },
    },
    handler: async (req, reply) => {
      consoleHeaders(reply);
      if (s.consoleKeySignIn === false) {
        throw new KeywardenError(
          'FORBIDDEN',
          'signing in to the console with an admin key is turned off (KEYWARDEN_CONSOLE_KEY_SIGNIN=false); sign in with SSO',
        );
      }
      const ua = req.headers['user-agent'] ?? null;
      const { token, info } = await s.sessions.signIn(req.body.adminKey, req.ip, ua);
      void reply.header('set-cookie', cookie(req, token, maxHours * 3600));
      return info;
    },
  });
  app.get('/console/api/session', {
    schema: {
      tags: ['console'],
      summary: 'The current console session',
      response: { 200: SessionInfo, 401: Problem },
    },
    handler: async (req, reply) => {
      consoleHeaders(reply);
      const actor = await s.sessions.authenticate(req);
      if (actor === null) throw new KeywardenError('UNAUTHENTICATED', 'no console session; sign in');
      return s.sessions.info(req, actor);
    },
  });
  app.delete('/console/api/session', {
    schema: {
      tags: ['console'],
      summary: 'Sign out: the session ends on the server',
      response: { 204: Type.Null(), 401: Problem, 403: Problem },
    },
    handler: async (req, reply) => {
      consoleHeaders(reply);
      const actor = await s.sessions.authenticate(req);
      if (actor === null) throw new KeywardenError('UNAUTHENTICATED', 'no console session');
      await s.sessions.signOut(req);
      return reply
        .header('set-cookie', cookie(req, '', 0))
        .code(204)
        .send(null);
    },
  });
}
