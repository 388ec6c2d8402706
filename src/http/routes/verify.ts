import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { Static } from '@sinclair/typebox';
import type { Actor } from '../../core/model.js';
import type { VerifyResult } from '../../core/verify.js';
import { VerifyRequest, VerifyResponse } from '../schemas.js';
import { adminRoute } from '../admin-route.js';
import { actorOf, type App, type Services } from '../types.js';

/**
 * A request the raw fast path (fast-verify.ts) read but hands to this route: its body, and the
 * error its verification failed with, if it got that far. The route then answers it as it answers
 * every request, so error answers have one implementation.
 */
export interface HandedOver {
  body: Buffer;
  error?: unknown;
}
export const handedOver = new WeakMap<IncomingMessage, HandedOver>();

/**
 * One verification request, checked and verified: what the route and the fast path both run.
 * Throws VALIDATION_FAILED for what the schema cannot say (permission syntax, resource, ip).
 */
export function verifyCall(
  s: Services,
  b: Static<typeof VerifyRequest>,
  actor: Actor,
  userAgentHeader: string | undefined,
): VerifyResult | Promise<VerifyResult> {
  const permissions = b.permissions ?? [];
  if (b.permission !== undefined) permissions.push(b.permission);
  // Permission syntax, resource and ip are checked by the verifier (core/verify.ts `inputProblem`).
  return s.verifier.verify(
    {
      key: b.key,
      environment: b.environment,
      permissions,
      resource: b.resource,
      ip: b.ip,
      cost: b.cost ?? 1,
    },
    { team: actor.team, userAgent: b.userAgent ?? userAgentHeader ?? null },
  );
}

/**
 * `POST /v1/verify`: always 200 for a well-formed request; the outcome is data (SPEC §2). Most
 * requests are answered before they reach Fastify (fast-verify.ts); what the route skips per
 * request, and why: docs/hot-path.md#http-per-request.
 */
export function verifyRoute(app: App, s: Services): void {
  app.post('/v1/verify', {
    ...adminRoute(
      'keys:verify',
      {
        tags: ['verify'],
        summary: 'Is this key allowed to do this?',
        body: VerifyRequest,
        response: { 200: VerifyResponse },
      },
      { errors: [400] },
    ),
    // A request the fast path handed over: its body again, as the stream it already read.
    preParsing: (req, _reply, payload, done) => {
      const h = handedOver.get(req.raw);
      done(null, h === undefined ? payload : Readable.from([h.body], { objectMode: false }));
    },
    // Not async: a cached key's answer is sent without a promise (Fastify sends a returned value).
    handler: (req) => {
      const h = handedOver.get(req.raw);
      if (h !== undefined && 'error' in h) throw h.error;
      return verifyCall(s, req.body, actorOf(req), req.headers['user-agent']);
    },
  });
}
