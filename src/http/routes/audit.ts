import { Type } from '@sinclair/typebox';
import { toPage } from '../../core/page.js';
import { listAudit, verifyAuditChain } from '../../storage/audit-repo.js';
import { AdminErrors, AuditEntry, AuditQuery, PageOf, Problem } from '../schemas.js';
import { actorOf, bearer, type App, type Services } from '../types.js';

/** The audit log and its hash-chain check (SPEC §5). */
export function auditRoutes(app: App, s: Services): void {
  app.get('/v1/audit', {
    config: { permission: 'audit:read' },
    schema: {
      tags: ['audit'],
      summary: 'Admin actions, newest first',
      security: bearer,
      querystring: AuditQuery,
      response: { 200: PageOf(AuditEntry), ...AdminErrors },
    },
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
      return toPage(
        rows,
        limit,
        (r) => r.id,
        (r) => ({
          id: r.id,
          at: r.at,
          actor: r.actor,
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
  app.get('/v1/audit/verify', {
    // The chain covers every team's rows: checking it is a deployment-wide action.
    config: { permission: 'audit:read', scope: { global: true } },
    schema: {
      tags: ['audit'],
      summary: 'Re-compute the hash chain; brokenAt is the first row that does not match',
      security: bearer,
      response: {
        200: Type.Object({
          ok: Type.Boolean(),
          entries: Type.Integer(),
          brokenAt: Type.Union([Type.Integer(), Type.Null()]),
        }),
        401: Problem,
        403: Problem,
      },
    },
    handler: async () => verifyAuditChain(s.ctx.storage.db),
  });
}
