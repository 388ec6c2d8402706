import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { listen } from '../testing/edge.js';
import { countChanges, runFuzz } from '../testing/fuzz.js';
import { DIALECTS, startServer, type TestServer } from '../testing/harness.js';

// The seeded campaign of `npm run fuzz` (20,000 requests), cut to 2,000 for the suite. The seed
// is fixed so a failure reproduces; KEYWARDEN_FUZZ_SEED tries another.
const sqlite = DIALECTS[0] ?? { name: 'sqlite' as const };
let t: TestServer;
let port: number;
before(async () => {
  t = await startServer(sqlite);
  port = await listen(t);
});
after(async () => t.close());

test('2,000 hostile requests from the OpenAPI document: no 5xx, no drop, problem+json, no stray records', async () => {
  const seed = Number(process.env.KEYWARDEN_FUZZ_SEED ?? 1515);
  const report = await runFuzz({
    port,
    rootKey: t.root,
    seed,
    requests: 2000,
    db: t.kw.storage.db as unknown as Kysely<unknown>,
    // Verifications are written by a timed flush: commit them before each window (see runFuzz).
    settle: () => t.kw.services.ctx.usage.flush(),
  });
  assert.equal(report.requests, 2000);
  assert.deepEqual(report.failures, [], `seed ${seed}: ${JSON.stringify(report.byStatus)}`);
  assert.equal(report.byStatus['5xx'], undefined);
  // The campaign reaches past authentication and validation, not only the 401 branch.
  assert.ok((report.byStatus['2xx'] ?? 0) > 50, JSON.stringify(report.byStatus));
  assert.ok((report.byStatus['4xx'] ?? 0) > 1000, JSON.stringify(report.byStatus));
});

test('work left by earlier requests is committed before a window; a change is named by table', async () => {
  // Stands in for the usage writer's first flush (it inserts a meta row): if it ran inside a
  // request's window, a refused request would be blamed for it.
  let settled = 0;
  const db = t.kw.storage.db as unknown as Kysely<unknown>;
  const report = await runFuzz({
    port,
    rootKey: t.root,
    seed: 7,
    requests: 40,
    db,
    settle: async () => {
      settled++;
      await sql`insert into meta (name, value) values (${`fuzz-settle-${settled}`}, '')`.execute(db);
    },
  });
  assert.ok(settled > 0);
  assert.deepEqual(report.failures, []);
  assert.equal(countChanges({ meta: 4, keys: 2 }, { meta: 5, keys: 2 }), 'meta +1');
  assert.equal(countChanges({ audit_log: 3 }, { audit_log: 1, webhooks: 1 }), 'audit_log -2 webhooks +1');
});
