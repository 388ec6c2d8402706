import type { FastifyReply, FastifyRequest } from 'fastify';
import { checkGuardOptions, guard, type GuardOptions, type KeyIdentity } from './guard.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified key's identity, set by `keywardenFastify` (null before it runs, or when it let a request through with `onUnavailable: 'allow'`). */
    keywarden: KeyIdentity | null;
  }
}

/**
 * A Fastify `preHandler`: verifies the request's key for the route's permission, answers
 * 401/403/429 (or 503 when Keywarden is unavailable) with problem+json, or sets
 * `request.keywarden`. Decorate the request once: `app.decorateRequest('keywarden', null)`.
 * @example app.get('/agents/:id', { preHandler: keywardenFastify({ verifier, environment: 'production', permission: 'agents:invoke' }) }, handler)
 */
export function keywardenFastify<Req extends FastifyRequest = FastifyRequest>(
  opts: GuardOptions<Req>,
): (request: Req, reply: FastifyReply) => Promise<void> {
  checkGuardOptions(opts);
  return async function keywardenPreHandler(req: Req, reply: FastifyReply): Promise<void> {
    const ua = req.headers['user-agent'];
    const out = await guard(opts, req, {
      headers: req.headers,
      ip: req.ip,
      userAgent: typeof ua === 'string' ? ua : undefined,
    });
    reply.headers(out.headers);
    if (out.ok) {
      req.keywarden = out.identity;
      return;
    }
    // Sending from a preHandler ends the request; Fastify skips the route handler.
    await reply.code(out.status).send(JSON.stringify(out.body));
  };
}
