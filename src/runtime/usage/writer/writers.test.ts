import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { VerificationEvent } from '../../../core/ports.js';
import type { Storage } from '../../../storage/db.js';
import { SEEN_OTHER, SEEN_VALUES_PER_DAY } from '../../../storage/usage-batch.js';
import {
  DIALECTS,
  aKey,
  call,
  createKey,
  startServer,
  verify,
  describeEachDialect,
} from '../../../testing/harness.js';
import { ROWS, batcherOf, recordEvents, usageEnv, written } from '../../../testing/usage.js';
import { InProcessWriter } from './in-process.js';
import { WorkerWriter } from './worker-thread.js';

/** Makes the insert of a log row whose ip is 'poison' fail, from another connection. */
async function poisonTrigger(s: Storage, on: boolean): Promise<void> {
  if (s.dialect === 'sqlite') {
    if (on) {
      await sql`create trigger kw_test_poison before insert on verification_log when new.ip = 'poison'
        begin select raise(abort, 'injected write failure'); end`.execute(s.db);
    } else await sql`drop trigger kw_test_poison`.execute(s.db);
    return;
  }
  if (on) {
    await sql`create function kw_test_poison() returns trigger language plpgsql as $$
      begin if new.ip = 'poison' then raise exception 'injected write failure'; end if; return new; end $$`.execute(
      s.db,
    );
    await sql`create trigger kw_test_poison before insert on verification_log
      for each row execute function kw_test_poison()`.execute(s.db);
  } else {
    await sql`drop trigger kw_test_poison on verification_log`.execute(s.db);
    await sql`drop function kw_test_poison()`.execute(s.db);
  }
}

/**
 * Makes the database refuse a log row whose ip is 'poison' or whose environment is 'development'
 * with a CHECK constraint (PostgreSQL: on the table; SQLite, which adds none to a table, checks in a
 * table a trigger inserts into): a refusal of the row itself, unlike `poisonTrigger`'s exception.
 */
async function refuseRows(s: Storage, on: boolean): Promise<void> {
  if (s.dialect === 'sqlite') {
    if (on) {
      await sql`create table kw_test_refused (ip text check (ip is not 'poison'),
        environment text check (environment <> 'development'))`.execute(s.db);
      await sql`create trigger kw_test_refuse before insert on verification_log
        begin insert into kw_test_refused values (new.ip, new.environment); end`.execute(s.db);
    } else {
      await sql`drop trigger kw_test_refuse`.execute(s.db);
      await sql`drop table kw_test_refused`.execute(s.db);
    }
    return;
  }
  if (on) {
    await sql`alter table verification_log add constraint kw_test_refuse
      check (ip is distinct from 'poison' and environment <> 'development') not valid`.execute(s.db);
  } else await sql`alter table verification_log drop constraint kw_test_refuse`.execute(s.db);
}

describeEachDialect(
  'usage writer',
  (t, dialect) => {
    let other: Storage;
    before(() => {
      other = t.openStorage();
    });
    after(async () => {
      await other.close();
    });

    test('rows, counters and the last use are in the database once flush() resolves', async () => {
      const writer = batcherOf(t).writer;
      if (dialect.name === 'sqlite') {
        assert.ok(writer instanceof WorkerWriter, 'a SQLite file is written by the worker thread');
      } else assert.ok(writer instanceof InProcessWriter, 'PostgreSQL is written in process');
      const k = await createKey(t, { permissions: ['agents:invoke'] });
      for (let i = 0; i < 3; i++) assert.equal((await verify(t, { key: k.key })).code, 'VALID');
      const n = 3 * ROWS + 17;
      recordEvents(t, k.id, n);
      await batcherOf(t).flush();
      if (writer instanceof WorkerWriter)
        assert.notEqual(writer.thread, undefined, 'the thread did the write');
      const w = await written(other, k.id);
      assert.equal(w.rows, n + 3);
      assert.equal(w.daily, n + 3);
      assert.notEqual(w.lastUsedAt, null);
      const usage = await call(t, 'GET', `/v1/keys/${k.id}/usage`);
      // recordEvents gives each event its own IP: the first SEEN_VALUES_PER_DAY are kept one by one,
      // the rest counted together.
      const ips = usage.body.ips as { value: string; count: number }[];
      assert.equal(ips.length, SEEN_VALUES_PER_DAY + 1);
      assert.equal(ips.find((x) => x.value === SEEN_OTHER)?.count, n - SEEN_VALUES_PER_DAY);
    });

    test('a failed write keeps the batch; a later flush writes it exactly once (credits too)', async () => {
      const usage = batcherOf(t);
      const k = await createKey(t, { credits: { remaining: 100 } });
      for (let i = 0; i < 5; i++) assert.equal((await verify(t, { key: k.key })).code, 'VALID');
      // The failure is in the first transaction: nothing is written, the credit uses go back.
      await poisonTrigger(other, true);
      try {
        recordEvents(t, k.id, 50, 10);
        await usage.flush();
        assert.deepEqual(await written(other, k.id), { rows: 0, daily: 0, lastUsedAt: null, credits: 100 });
        assert.match(t.logs(), /usage flush failed; kept for the next try/);
        const again = await verify(t, { key: k.key });
        assert.equal(
          (again.credits as { remaining: number }).remaining,
          94,
          'the limiter still subtracts the unwritten uses',
        );
      } finally {
        await poisonTrigger(other, false);
      }
      await usage.flush();
      const first = await written(other, k.id);
      assert.deepEqual([first.rows, first.daily, first.credits], [56, 56, 94]);
      assert.notEqual(first.lastUsedAt, null);

      // A failure in a later transaction: the ones before it stay written, and are not written again.
      await poisonTrigger(other, true);
      try {
        recordEvents(t, k.id, 2 * ROWS, ROWS + 5);
        await usage.flush();
        assert.equal((await written(other, k.id)).rows, 56 + ROWS);
      } finally {
        await poisonTrigger(other, false);
      }
      await usage.flush();
      const w = await written(other, k.id);
      assert.equal(w.rows, 56 + 2 * ROWS);
      assert.equal(w.daily, w.rows);
      assert.equal(w.credits, 94);
      const m = (await call(t, 'GET', '/metrics', undefined, null)).raw;
      assert.match(m, /keywarden_job_runs_total\{job="usage_flush",outcome="error"\} [1-9]/);
    });

    test('a call the database refuses is counted without its details; the rest is written and the log goes on', async () => {
      const usage = batcherOf(t);
      const k = await createKey(t);
      const n = 2 * ROWS + 17;
      const from = t.logs().length;
      const logs = (): string => t.logs().slice(from);
      const salvagedMetric = async (): Promise<number> => {
        const m = (await call(t, 'GET', '/metrics', undefined, null)).raw;
        return Number(/keywarden_usage_salvaged_total (\d+)/.exec(m)?.[1] ?? 0);
      };
      const odd = (over: Partial<VerificationEvent>): void => {
        usage.record({
          at: Date.now(),
          keyId: k.id,
          keyStart: 'kw_prod_test',
          environment: 'production',
          permissions: ['agents:invoke'],
          resource: null,
          code: 'VALID',
          ip: '10.200.0.1',
          userAgent: 'odd/1',
          latencyUs: 3,
          ...over,
        });
      };
      await refuseRows(other, true);
      try {
        // The refused call sits in the second transaction: the first is written as it is.
        recordEvents(t, k.id, n, ROWS + 5);
        // A call measured across a paused process: past PostgreSQL's 32-bit latency column.
        odd({ latencyUs: 3e9, ip: '10.200.0.3' });
        await usage.flush();
        const w = await written(other, k.id);
        assert.equal(w.rows, n + 1, 'every call counted');
        assert.equal(w.daily, n + 1);
        assert.equal(usage.writer instanceof WorkerWriter && usage.writer.inProcess, false);
        const rows = await other.db
          .selectFrom('verification_log')
          .selectAll()
          .where('key_id', '=', k.id)
          .where((eb) => eb.or([eb('overflow', '=', 1), eb('ip', 'in', ['poison', '10.200.0.3'])]))
          .orderBy('overflow', 'desc')
          .execute();
        assert.deepEqual(
          rows.map((r) => [r.ip, r.overflow, r.count, r.environment, r.user_agent, r.latency_us]),
          [
            [null, 1, 1, 'production', null, 3],
            ['10.200.0.3', 0, 1, 'production', 'odd/1', 2_147_483_647],
          ],
          'the refused call is a row without its details; the slow call keeps its own, its latency at the bound',
        );
        assert.equal(await salvagedMetric(), 1);
        assert.match(logs(), /the database refused usage rows as they were: those calls are counted without/);
        assert.match(
          logs(),
          /"reason":"(23514: new row for relation|SQLITE_CONSTRAINT_CHECK: CHECK constraint failed)/,
        );
        assert.doesNotMatch(logs(), /kept for the next try/);

        // Refused even without its details (its environment, which is kept): not a caller's value,
        // so kept for the next try, as in an outage; what came before it is written.
        recordEvents(t, k.id, 10);
        odd({ environment: 'development', ip: '10.200.0.2' });
        recordEvents(t, k.id, 5);
        await usage.flush();
        assert.equal((await written(other, k.id)).rows, n + 11, 'the calls before it');
        assert.match(logs(), /usage flush failed; kept for the next try/);
        assert.equal(usage.writer instanceof WorkerWriter && usage.writer.inProcess, false);
      } finally {
        await refuseRows(other, false);
      }
      // Once the database takes it, it is written, and the calls after it: nothing was dropped.
      await usage.flush();
      const w = await written(other, k.id);
      assert.deepEqual([w.rows, w.daily], [n + 17, n + 17]);
      assert.equal(await salvagedMetric(), 1);
    });

    test('an admin write goes through while a large batch is being written', async () => {
      const k = await createKey(t);
      const n = 30 * ROWS;
      recordEvents(t, k.id, n);
      const t0 = performance.now();
      let flushedAt = Infinity;
      const flushed = batcherOf(t)
        .flush()
        .then(() => (flushedAt = performance.now()));
      const created: number[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await call(t, 'POST', '/v1/keys', aKey({ name: `crm-prod-during-flush-${i}` }));
        assert.equal(r.status, 201, r.raw);
        created.push(performance.now() - t0);
      }
      await flushed;
      assert.equal((await written(other, k.id)).rows, n);
      if (dialect.name === 'sqlite') {
        // The worker gives way between its transactions: the admin write waited for one, not the batch.
        assert.ok(
          (created[0] ?? Infinity) < flushedAt - t0,
          `first admin write done at ${created[0]?.toFixed(0)} ms, the batch at ${(flushedAt - t0).toFixed(0)} ms`,
        );
      }
    });

    test('the events handed to the writer carry key ids and starts, never a key', async () => {
      const usage = batcherOf(t);
      const k = await createKey(t);
      const strings: string[] = [];
      const write = usage.writer.write.bind(usage.writer);
      usage.writer.write = (job) => {
        for (const b of job.batches) strings.push(...b.events.strings);
        return write(job);
      };
      try {
        await verify(t, { key: k.key, ip: '203.0.113.9' });
        await verify(t, { key: k.key.slice(0, -1) + (k.key.endsWith('A') ? 'B' : 'A') });
        await usage.flush();
      } finally {
        usage.writer.write = write;
      }
      assert.ok(strings.includes(k.id) && strings.includes('203.0.113.9'));
      const body = k.key.slice(k.key.lastIndexOf('_') + 1);
      assert.equal(
        strings.filter((s) => s.includes(body.slice(4, 20))).length,
        0,
        'no plaintext key (only its start, the prefix and 4 characters)',
      );
    });
    return { env: usageEnv(3_600_000) };
  },
  { timeout: 120_000 },
);

for (const dialect of DIALECTS) {
  describe(`usage writer: close() under load (${dialect.name})`, { timeout: 120_000 }, () => {
    test('every verification recorded before close() is written, with flushes in flight', async () => {
      const t = await startServer(dialect, { env: usageEnv(15) });
      let s: Storage | undefined;
      try {
        const k = await createKey(t);
        const scope = { team: null };
        const input = { key: k.key, environment: 'production' as const, permissions: [], cost: 1 };
        let calls = 0;
        const until = Date.now() + 1500;
        while (Date.now() < until) {
          for (let i = 0; i < 100; i++) {
            await t.kw.services.verifier.verify(input, scope);
            calls++;
          }
          recordEvents(t, k.id, 100);
          calls += 100;
          // Lets the 15 ms flush timer fire between bursts: writes are in flight throughout.
          await new Promise((r) => setTimeout(r, 2));
        }
        void batcherOf(t).flush();
        await t.kw.close();
        s = t.openStorage();
        const w = await written(s, k.id);
        assert.equal(w.rows, calls, 'log rows');
        assert.equal(w.daily, calls, 'daily counters');
        assert.equal(batcherOf(t).dropped, 0);
      } finally {
        await s?.close();
        await t.close();
      }
    });
  });
}
