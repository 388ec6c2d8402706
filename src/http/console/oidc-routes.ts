import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  OIDC_BINDING_COOKIE,
  OIDC_LOGIN_TTL_MS,
  OidcFailure,
  type OidcFailureReason,
} from '../../services/oidc.js';
import { readCookie, SESSION_COOKIE } from '../../services/console-sessions.js';
import { KeywardenError } from '../../core/errors.js';
import type { App, Services } from '../types.js';
import { consoleHeaders } from './headers.js';

const STATUS: Record<OidcFailureReason, number> = {
  not_member: 403,
  unverified_email: 403,
  no_email: 403,
  provider_error: 502,
  provider_unreachable: 503,
  bad_state: 400,
  expired_state: 400,
  replayed_state: 400,
};

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page a person sees when SSO did not sign them in: what happened, and the way back. */
export function failurePage(title: string, detail: string, reason: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · Keywarden</title></head>
<body>
<main>
<h1>${escape(title)}</h1>
<p id="reason" data-reason="${escape(reason)}">${escape(detail)}</p>
<p><a href="/">Back to the sign-in page</a></p>
</main>
</body>
</html>
`;
}

function cookie(
  req: FastifyRequest,
  name: string,
  value: string,
  attrs: string,
  maxAgeSeconds: number,
): string {
  const secure = req.protocol === 'https' ? '; Secure' : '';
  return `${name}=${value}; ${attrs}; HttpOnly; Max-Age=${maxAgeSeconds}${secure}`;
}

/** Without an identity provider these routes do not exist: the API's problem+json 404. */
function notConfigured(): never {
  throw new KeywardenError(
    'NOT_FOUND',
    'single sign-on is not configured on this deployment (KEYWARDEN_OIDC_ISSUER and the related settings)',
  );
}

function sendFailure(reply: FastifyReply, err: OidcFailure): FastifyReply {
  return reply
    .code(STATUS[err.reason])
    .type('text/html; charset=utf-8')
    .send(failurePage(err.title, err.message, err.reason));
}

/**
 * Console sign-in by OpenID Connect (when configured): `login` sends the browser to the provider
 * with a binding cookie (SameSite=Lax: it must come back on the provider's top-level redirect);
 * `callback` opens the same session as an admin-key sign-in, or shows a page saying why not.
 */
export function oidcRoutes(app: App, s: Services, maxHours: number): void {
  app.get('/console/api/sign-in-options', {
    schema: {
      tags: ['console'],
      summary: 'How one may sign in to the console: SSO, an admin key, or both',
      response: { 200: Type.Object({ sso: Type.Boolean(), adminKey: Type.Boolean() }) },
    },
    handler: async (_req, reply) => {
      consoleHeaders(reply);
      return { sso: s.oidc !== undefined, adminKey: s.consoleKeySignIn !== false };
    },
  });
  app.get('/console/api/oidc/login', {
    schema: {
      tags: ['console'],
      summary: 'Start single sign-on: redirects to the identity provider',
    },
    handler: async (req, reply) => {
      consoleHeaders(reply);
      const provider = s.oidc;
      if (provider === undefined) notConfigured();
      try {
        const { url, binding } = await provider.start();
        void reply.header(
          'set-cookie',
          cookie(
            req,
            OIDC_BINDING_COOKIE,
            binding,
            'Path=/console/api/oidc; SameSite=Lax',
            OIDC_LOGIN_TTL_MS / 1000,
          ),
        );
        return await reply.redirect(url, 302);
      } catch (err) {
        if (err instanceof OidcFailure) return sendFailure(reply, err);
        throw err;
      }
    },
  });
  app.get('/console/api/oidc/callback', {
    schema: {
      tags: ['console'],
      summary: 'Finish single sign-on: sets the session cookie and opens the console, or says why not',
    },
    handler: async (req, reply) => {
      consoleHeaders(reply);
      const provider = s.oidc;
      const clearBinding = cookie(req, OIDC_BINDING_COOKIE, '', 'Path=/console/api/oidc; SameSite=Lax', 0);
      if (provider === undefined) notConfigured();
      const q = req.url.indexOf('?');
      try {
        const { token } = await provider.finish(
          q < 0 ? '' : req.url.slice(q + 1),
          readCookie(req.headers.cookie, OIDC_BINDING_COOKIE),
          req.ip,
          req.headers['user-agent'] ?? null,
        );
        const session = `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxHours * 3600}${req.protocol === 'https' ? '; Secure' : ''}`;
        void reply.header('set-cookie', [session, clearBinding]);
        return await reply.redirect('/', 303);
      } catch (err) {
        if (err instanceof OidcFailure) {
          void reply.header('set-cookie', clearBinding);
          return sendFailure(reply, err);
        }
        throw err;
      }
    },
  });
}
