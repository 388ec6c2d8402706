import { Type } from '@sinclair/typebox';
import { toPage } from '../../core/page.js';
import { KeywardenError } from '../../core/errors.js';
import { listLogs, usageOf } from '../../storage/usage-repo.js';
import { IdParams, Limit, Nullable, PageOf, VerifyCode } from '../schemas.js';
import { adminRoute } from '../admin-route.js';
import { actorOf, type App, type Services } from '../types.js';

const DateTime = Type.String({ format: 'date-time', maxLength: 40 });
const Count = Type.Object({ value: Type.String(), count: Type.Integer() });

/** A minute row of the log (docs/verification-log.md): the calls of one combination in one minute. */
const LogEntry = Type.Object({
  id: Type.String(),
  /** The row's minute (its start). */
  minute: Type.String(),
  /** The first call of the row (as `firstAt`; kept for clients of the per-call log). */
  at: Type.String(),
  firstAt: Type.String(),
  lastAt: Type.String(),
  count: Type.Integer(),
  /**
   * True for a row whose calls are counted without their details: a minute's overflow row of one
   * code (its row cap was reached; environment `*`, no key), or a call the database refused to
   * store as it was (docs/verification-log.md#refused-rows).
   */
  overflow: Type.Boolean(),
  /**
   * True for calls a narrowing's shadow set would have refused (docs/narrowing.md): they were not
   * refused (their own row is VALID); `code` is what the narrower set would have answered.
   */
  shadow: Type.Boolean(),
  keyId: Nullable(Type.String()),
  keyStart: Nullable(Type.String()),
  environment: Type.String(),
  permissions: Type.Array(Type.String()),
  resource: Nullable(Type.String()),
  code: Type.String(),
  ip: Nullable(Type.String()),
  userAgent: Nullable(Type.String()),
  /** The calls' mean latency. */
  latencyUs: Type.Integer(),
  latencyMaxUs: Type.Integer(),
});

/** The verification log and per-key usage (SPEC §5). Written in batches: expect up to a second of lag. */
export function usageRoutes(app: App, s: Services): void {
  app.get('/v1/logs', {
    ...adminRoute(
      'logs:read',
      {
        tags: ['logs'],
        summary:
          'Verification log: a row per minute per distinct call (key, environment, outcome, client, permissions, resource) with its count, newest first',
        querystring: Type.Object(
          {
            keyId: Type.Optional(Type.String({ maxLength: 64 })),
            identityId: Type.Optional(
              Type.String({ maxLength: 64, description: "only the identity's keys" }),
            ),
            code: Type.Optional(VerifyCode),
            shadow: Type.Optional(
              Type.Boolean({
                description:
                  "true: only the rows of calls a narrowing's shadow set would have refused (docs/narrowing.md); false: only real calls; absent: both",
              }),
            ),
            from: Type.Optional(DateTime),
            to: Type.Optional(DateTime),
            limit: Type.Optional(Limit),
            // A row id (`nextCursor` of an earlier page): anything else would page from nowhere.
            cursor: Type.Optional(
              Type.String({
                pattern: '^vl_[0-9A-Za-z]{19}$',
                description: "the nextCursor of an earlier page (a log row's id)",
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(LogEntry) },
      },
      { errors: [400] },
    ),
    handler: async (req) => {
      const actor = actorOf(req);
      const { limit = 50, cursor, from, to, ...f } = req.query;
      // RFC 3339 allows a leap second (23:59:60), which the format check lets through and Date cannot read.
      const norm = (name: string, t: string | undefined): string | undefined => {
        if (t === undefined) return undefined;
        const ms = Date.parse(t);
        if (Number.isNaN(ms))
          throw new KeywardenError(
            'VALIDATION_FAILED',
            `query.${name} ${JSON.stringify(t)} is not a time this server can read`,
          );
        return new Date(ms).toISOString();
      };
      const window = { from: norm('from', from), to: norm('to', to) };
      if (window.from !== undefined && window.to !== undefined && window.from > window.to)
        throw new KeywardenError(
          'VALIDATION_FAILED',
          `query.from (${window.from}) is after query.to (${window.to}): the window holds no time`,
        );
      const rows = await listLogs(s.ctx.storage.db, { ...f, ...window, team: actor.team }, limit + 1, cursor);
      return toPage(
        rows,
        limit,
        (r) => r.id,
        (r) => ({
          id: r.id,
          minute: `${r.at.slice(0, 16)}:00.000Z`,
          at: r.at,
          firstAt: r.at,
          lastAt: r.last_at ?? r.at,
          count: r.count,
          overflow: r.overflow === 1,
          shadow: r.shadow === 1,
          keyId: r.key_id,
          keyStart: r.key_start,
          environment: r.environment,
          permissions: r.permissions === null ? [] : r.permissions.split(','),
          resource: r.resource,
          code: r.code,
          ip: r.ip,
          userAgent: r.user_agent,
          latencyUs: Math.round((r.latency_sum_us ?? r.latency_us) / Math.max(1, r.count)),
          latencyMaxUs: r.latency_us,
        }),
      );
    },
  });

  app.get('/v1/keys/:id/usage', {
    ...adminRoute(
      'logs:read',
      {
        tags: ['logs'],
        summary:
          'Verifications per day by outcome, lastUsedAt, client IPs and user agents seen, permissions used',
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
        },
      },
      { errors: [404] },
    ),
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
