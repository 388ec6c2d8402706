import { Type } from '@sinclair/typebox';
import { toPage } from '../../core/page.js';
import { KeywardenError } from '../../core/errors.js';
import { auditActors, auditHead, listAudit, verifyAuditChain } from '../../storage/audit-repo.js';
import { AuditEntry, AuditQuery, PageOf } from '../schemas.js';
import { adminRoute } from '../admin-route.js';
import { actorOf, type App, type Services } from '../types.js';
import type { FastifyRequest } from 'fastify';

/** The chain spans every team's entries: checking it or reading its head is for global keys only. */
function requireGlobal(req: FastifyRequest): void {
  const actor = actorOf(req);
  if (actor.team !== null) {
    throw new KeywardenError(
      'FORBIDDEN',
      `the audit chain covers every team; this admin key is limited to team "${actor.team}"`,
    );
  }
}

const AuditHead = Type.Object({
  seq: Type.Integer({ description: 'sequence number of the newest audit row (0: empty log)' }),
  hash: Type.String({ description: "that row's HMAC link" }),
  at: Type.Union([Type.String(), Type.Null()], { description: 'when that row was written' }),
});

/** The audit log and its hash-chain check (SPEC §5). */
export function auditRoutes(app: App, s: Services): void {
  app.get('/v1/audit', {
    ...adminRoute(
      'audit:read',
      {
        tags: ['audit'],
        summary: 'Admin actions, newest first',
        querystring: AuditQuery,
        response: { 200: PageOf(AuditEntry) },
      },
      { errors: [400] },
    ),
    handler: async (req) => {
      // A team-scoped auditor reads only the rows whose target is its team's.
      const { team } = actorOf(req);
      const { limit = 50, cursor, ...filter } = req.query;
      const rows = await listAudit(
        s.ctx.storage.db,
        filter,
        limit + 1,
        cursor === undefined ? undefined : Number(cursor),
        team,
      );
      const actors = await auditActors(
        s.ctx.storage.db,
        rows.slice(0, limit).flatMap((r) => (r.actor === null ? [] : [r.actor])),
      );
      return toPage(
        rows,
        limit,
        (r) => r.id,
        (r) => ({
          id: r.id,
          at: r.at,
          actor: r.actor,
          actorInfo: r.actor === null ? null : (actors.get(r.actor) ?? null),
          action: r.action,
          target: r.target,
          before: r.before === null ? null : (JSON.parse(r.before) as unknown),
          after: r.after === null ? null : (JSON.parse(r.after) as unknown),
          ip: r.ip,
          hash: r.hash,
        }),
      );
    },
  });
  app.get('/v1/audit/head', {
    ...adminRoute('audit:read', {
      tags: ['audit'],
      summary:
        'The head of the audit chain: keep it outside the database, check it later with verify?anchor=',
      response: { 200: AuditHead },
    }),
    handler: async (req) => {
      requireGlobal(req);
      return auditHead(s.ctx.storage.db);
    },
  });
  app.get('/v1/audit/verify', {
    // The chain covers every team's rows: checking it is a deployment-wide action.
    ...adminRoute(
      'audit:read',
      {
        tags: ['audit'],
        summary:
          'Re-compute the HMAC chain; brokenAt is the first row that does not match. With anchor=<seq>:<hash> (a head kept elsewhere), ok is false when the chain no longer holds that head',
        querystring: Type.Object(
          {
            anchor: Type.Optional(
              Type.String({
                pattern: '^[1-9][0-9]{0,15}:[0-9a-f]{64}$',
                description: 'a head from GET /v1/audit/head, as <seq>:<hash>',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            ok: Type.Boolean(),
            entries: Type.Integer(),
            brokenAt: Type.Union([Type.Integer(), Type.Null()]),
          }),
        },
      },
      { scope: { global: true }, errors: [400] },
    ),
    handler: async (req) => {
      requireGlobal(req);
      const anchor = req.query.anchor;
      if (anchor === undefined) return verifyAuditChain(s.ctx.storage.db);
      const [seq = '', hash = ''] = anchor.split(':');
      return verifyAuditChain(s.ctx.storage.db, { seq: Number(seq), hash });
    },
  });
}
