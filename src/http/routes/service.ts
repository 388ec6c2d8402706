import { Type } from '@sinclair/typebox';
import { sendProblem } from '../problem.js';
import type { App, Services } from '../types.js';

/** Unauthenticated service endpoints: liveness, readiness, Prometheus metrics, OpenAPI. */
export function serviceRoutes(app: App, s: Services): void {
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
    handler: async (_req, reply) => {
      s.ctx.metrics.cacheSize.set(s.ctx.cache.size);
      return reply.type(s.ctx.metrics.registry.contentType).send(await s.ctx.metrics.registry.metrics());
    },
  });
  app.get('/openapi.json', {
    schema: { tags: ['service'], summary: 'This document', hide: true },
    handler: () => app.swagger(),
  });
}
