import { Type } from '@sinclair/typebox';
import { toPage } from '../../core/page.js';
import { listLogs, usageOf } from '../../storage/usage-repo.js';
import { AdminErrors, Cursor, IdParams, Limit, Nullable, PageOf, Problem, VerifyCode } from '../schemas.js';
import { actorOf, bearer, type App, type Services } from '../types.js';

const DateTime = Type.String({ format: 'date-time', maxLength: 40 });
const Count = Type.Object({ value: Type.String(), count: Type.Integer() });

const LogEntry = Type.Object({
  id: Type.String(),
  at: Type.String(),
  keyId: Nullable(Type.String()),
  keyStart: Nullable(Type.String()),
  environment: Type.String(),
  permissions: Type.Array(Type.String()),
  resource: Nullable(Type.String()),
  code: Type.String(),
  ip: Nullable(Type.String()),
  userAgent: Nullable(Type.String()),
  latencyUs: Type.Integer(),
});

/** The verification log and per-key usage (SPEC §5). Written in batches: expect up to a second of lag. */
export function usageRoutes(app: App, s: Services): void {
  app.get('/v1/logs', {
    config: { permission: 'logs:read' },
    schema: {
      tags: ['logs'],
      summary: 'Verification log, newest first',
      security: bearer,
      querystring: Type.Object(
        {
          keyId: Type.Optional(Type.String({ maxLength: 64 })),
          code: Type.Optional(VerifyCode),
          from: Type.Optional(DateTime),
          to: Type.Optional(DateTime),
          limit: Type.Optional(Limit),
          cursor: Type.Optional(Cursor),
        },
        { additionalProperties: false },
      ),
      response: { 200: PageOf(LogEntry), ...AdminErrors },
    },
    handler: async (req) => {
      const actor = actorOf(req);
      const { limit = 50, cursor, from, to, ...f } = req.query;
      const norm = (t: string | undefined): string | undefined =>
        t === undefined ? undefined : new Date(t).toISOString();
      const rows = await listLogs(
        s.ctx.storage.db,
        { ...f, from: norm(from), to: norm(to), team: actor.team },
        limit + 1,
        cursor,
      );
      return toPage(
        rows,
        limit,
        (r) => r.id,
        (r) => ({
          id: r.id,
          at: r.at,
          keyId: r.key_id,
          keyStart: r.key_start,
          environment: r.environment,
          permissions: r.permissions === null ? [] : r.permissions.split(','),
          resource: r.resource,
          code: r.code,
          ip: r.ip,
          userAgent: r.user_agent,
          latencyUs: r.latency_us,
        }),
      );
    },
  });

  app.get('/v1/keys/:id/usage', {
    config: { permission: 'logs:read' },
    schema: {
      tags: ['logs'],
      summary:
        'Verifications per day by outcome, lastUsedAt, client IPs and user agents seen, permissions used',
      security: bearer,
      params: IdParams,
      querystring: Type.Object(
        { days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, default: 90 })) },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object({
          keyId: Type.String(),
          lastUsedAt: Type.Union([Type.String(), Type.Null()]),
          days: Type.Array(
            Type.Object({ day: Type.String(), counts: Type.Record(Type.String(), Type.Integer()) }),
          ),
          totals: Type.Record(Type.String(), Type.Integer()),
          ips: Type.Array(Count),
          userAgents: Type.Array(Count),
          permissionsUsed: Type.Array(Count),
        }),
        401: Problem,
        403: Problem,
        404: Problem,
      },
    },
    handler: async (req) => {
      const actor = actorOf(req);
      const key = await s.keys.get(actor, req.params.id);
      const since = new Date(s.ctx.clock.now() - ((req.query.days ?? 90) - 1) * 86_400_000)
        .toISOString()
        .slice(0, 10);
      const u = await usageOf(s.ctx.storage.db, key.id, since);
      return {
        keyId: key.id,
        lastUsedAt: key.lastUsedAt,
        days: u.days,
        totals: u.totals,
        ips: u.ips,
        userAgents: u.userAgents,
        permissionsUsed: u.permissions,
      };
    },
  });
}
