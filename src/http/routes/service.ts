import { Type } from '@sinclair/typebox';
import { createHash, timingSafeEqual } from 'node:crypto';
import { sendProblem } from '../problem.js';
import type { App, Services } from '../types.js';

/** Compared as digests, so the comparison takes the same time whatever the presented length. */
const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Unauthenticated service endpoints: liveness, readiness, Prometheus metrics (behind a bearer
 * token when `metricsToken` is set), OpenAPI.
 */
export function serviceRoutes(app: App, s: Services, metricsToken?: string): void {
  const expected = metricsToken === undefined ? undefined : digest(`Bearer ${metricsToken}`);
  app.get('/healthz', {
    schema: { tags: ['service'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } },
    handler: () => ({ status: 'ok' as const }),
  });
  app.get('/readyz', {
    schema: { tags: ['service'], summary: 'Storage reachable' },
    handler: async (_req, reply) => {
      if (await s.ready()) return { status: 'ready' };
      return sendProblem(reply, 'SERVICE_UNAVAILABLE', 'storage is not reachable');
    },
  });
  app.get('/metrics', {
    schema: { tags: ['service'], summary: 'Prometheus text exposition', hide: false },
    handler: async (req, reply) => {
      if (expected !== undefined && !timingSafeEqual(digest(req.headers.authorization ?? ''), expected)) {
        void reply.header('www-authenticate', 'Bearer realm="metrics"');
        return sendProblem(
          reply,
          'UNAUTHENTICATED',
          'GET /metrics needs Authorization: Bearer <metrics token>',
        );
      }
      s.ctx.metrics.cacheSize.set(s.ctx.cache.size);
      return reply.type(s.ctx.metrics.registry.contentType).send(await s.ctx.metrics.registry.metrics());
    },
  });
  app.get('/openapi.json', {
    schema: { tags: ['service'], summary: 'This document', hide: true },
    handler: () => app.swagger(),
  });
}
