import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import pino from 'pino';
import { loadConfig } from '../../config.js';
import { createKeywarden, type Keywarden } from '../../main.js';
import type { Storage } from '../../storage/db.js';
import { idAt } from '../../core/ids.js';
import { usageFacts } from '../../storage/governance-repo.js';
import { deleteLogsBefore, listLogs } from '../../storage/usage-repo.js';
import { DIALECTS, ManualClock, call, createKey, startServer, verify } from '../../testing/harness.js';
import { olderStore } from '../../testing/older-store.js';

const sumCounts = async (s: Storage): Promise<number> => {
  const r = await s.db
    .selectFrom('verification_log')
    .select((eb) => eb.fn.sum<string | number | null>('count').as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n ?? 0);
};

/** A log row as stored before migration 0012: one call, no count, last_at, latency sum or overflow flag. */
const oldRow = (id: string, at: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id,
  at,
  key_id: 'key_old',
  key_start: 'kw_prod_old1',
  environment: 'production',
  permissions: 'agents:invoke',
  resource: null,
  code: 'VALID',
  ip: '10.9.9.9',
  user_agent: 'old/1',
  latency_us: 40,
  ...over,
});
const untyped = (s: Storage): Kysely<{ verification_log: object }> =>
  s.db as unknown as Kysely<{ verification_log: object }>;

for (const dialect of DIALECTS) {
  describe(`verification log as minute rows (${dialect.name})`, () => {
    test('every verification is counted: across flushes, the row cap and a graceful restart', async () => {
      const clock = new ManualClock(Date.parse('2026-06-01T10:00:05.000Z'));
      const env = { KEYWARDEN_USAGE_FLUSH_MS: '3600000', KEYWARDEN_LOG_MAX_ROWS_PER_MINUTE: '8' };
      const t = await startServer(dialect, { clock, env });
      let second: Keywarden | undefined;
      try {
        const k = await createKey(t, { permissions: ['agents:invoke'] });
        let served = 0;
        for (let i = 0; i < 30; i++, served++)
          await verify(t, { key: k.key, permission: 'agents:invoke', ip: '10.0.0.1' });
        await t.kw.services.ctx.usage.flush();
        clock.advance(20);
        for (let i = 0; i < 10; i++, served++)
          await verify(t, { key: k.key, permission: 'agents:invoke', ip: '10.0.0.1' });
        // A flood of unknown keys from distinct IPs: past 8 rows in the minute, overflow rows.
        for (let i = 0; i < 40; i++, served++)
          await verify(t, {
            key: `kw_prod_unknown${String(i).padStart(3, '0')}xxxxxxxxxxxxxxxx`,
            ip: `10.1.0.${i}`,
          });
        await t.kw.services.ctx.usage.flush();
        const logs = await call(t, 'GET', `/v1/logs?keyId=${k.id}`);
        const items = logs.body.items as { count: number; firstAt: string; lastAt: string; minute: string }[];
        assert.equal(items.length, 1, 'one client, one combination, one minute: one row across two flushes');
        assert.deepEqual(
          { ...items[0] },
          {
            ...items[0],
            count: 40,
            firstAt: '2026-06-01T10:00:05.000Z',
            lastAt: '2026-06-01T10:00:25.000Z',
            minute: '2026-06-01T10:00:00.000Z',
          },
        );
        const overflow = (await call(t, 'GET', '/v1/logs?limit=200')).body.items as {
          overflow: boolean;
          count: number;
          keyStart: string | null;
        }[];
        assert.ok(overflow.length <= 8 + 2, `at most the cap and the overflow rows, got ${overflow.length}`);
        const over = overflow.filter((r) => r.overflow);
        assert.ok(over.length >= 1 && over.every((r) => r.keyStart === null));
        assert.ok(
          (
            await t.kw.services.ctx.metrics.registry.getSingleMetricAsString('keywarden_log_overflow_total')
          ).match(/keywarden_log_overflow_total (\d+)/)?.[1] !== '0',
          'the overflow is counted in a metric',
        );
        // Calls not yet written when the server stops gracefully are written by its last flush.
        for (let i = 0; i < 7; i++, served++)
          await verify(t, { key: k.key, permission: 'agents:invoke', ip: '10.0.0.2' });
        // The same store (the PostgreSQL schema the harness made), a new process's state.
        const schema =
          dialect.name === 'postgres'
            ? (await sql<{ s: string }>`select current_schema() as s`.execute(t.kw.storage.db)).rows[0]?.s
            : undefined;
        await t.kw.close();
        const kw2 = await createKeywarden(t.config, {
          clock,
          logger: pino({ level: 'silent' }),
          ...(schema !== undefined ? { schema } : {}),
        });
        second = kw2;
        for (let i = 0; i < 5; i++, served++) {
          const r = await kw2.app.inject({
            method: 'POST',
            url: '/v1/verify',
            headers: { authorization: `Bearer ${t.root}`, 'content-type': 'application/json' },
            payload: JSON.stringify({ key: k.key, environment: 'production', permission: 'agents:invoke' }),
          });
          assert.equal((JSON.parse(r.body) as { code: string }).code, 'VALID');
        }
        await kw2.close();
        const s = t.openStorage();
        try {
          assert.equal(await sumCounts(s), served, 'the sum of counts is the verifications served');
          const daily = await s.db
            .selectFrom('key_usage_daily')
            .select((eb) => eb.fn.sum<string | number>('n').as('n'))
            .where('key_id', '=', k.id)
            .executeTakeFirstOrThrow();
          assert.equal(Number(daily.n), 52);
        } finally {
          await s.close();
        }
      } finally {
        await second?.close();
        await t.close();
      }
    });

    test('upgrade: per-call rows of an older store read as minute rows of one call, and age out', async () => {
      const { s, upgrade, close } = await olderStore(dialect, '0008_keys_last_used_unindexed');
      try {
        // Ids as that version made them: the call's time (moved forward only within a millisecond).
        const [id1, id2, id3] = [1, 2, 3].map((sec) => idAt('vl', Date.UTC(2026, 4, 1, 10, 0, sec))) as [
          string,
          string,
          string,
        ];
        await untyped(s)
          .insertInto('verification_log')
          .values([
            oldRow(id1, '2026-05-01T10:00:01.000Z'),
            oldRow(id2, '2026-05-01T10:00:02.000Z', {
              code: 'ENVIRONMENT_MISMATCH',
              key_id: 'key_stg',
              environment: 'production',
            }),
            oldRow(id3, '2026-05-01T10:00:03.000Z', {
              code: 'ENVIRONMENT_MISMATCH',
              key_id: 'key_stg',
              environment: 'production',
            }),
          ])
          .execute();
        await upgrade();
        const rows = await listLogs(s.db, {}, 10);
        assert.deepEqual(
          rows.map((r) => [r.id, r.count, r.last_at ?? r.at, r.latency_sum_us ?? r.latency_us, r.overflow]),
          [
            [id3, 1, '2026-05-01T10:00:03.000Z', 40, 0],
            [id2, 1, '2026-05-01T10:00:02.000Z', 40, 0],
            [id1, 1, '2026-05-01T10:00:01.000Z', 40, 0],
          ],
        );
        const facts = await usageFacts(s.db, '2026-04-01', '2026-04-01T00:00:00.000Z');
        assert.deepEqual(facts.productionMismatches.get('key_stg'), {
          count: 2,
          lastAt: '2026-05-01T10:00:03.000Z',
        });
        assert.equal(await deleteLogsBefore(s.db, '2026-05-01T10:00:02.500Z'), 2);
        assert.equal(await sumCounts(s), 1);
      } finally {
        await close();
      }
    });

    test('retention deletes in bounded batches and keeps newer rows', async () => {
      const t = await startServer(dialect);
      try {
        const db = untyped(t.kw.storage);
        const rows = Array.from({ length: 2600 }, (_, i) =>
          oldRow(
            idAt('vl', Date.UTC(2026, 0, 1) + i * 1000),
            new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
          ),
        );
        for (let i = 0; i < rows.length; i += 200)
          await db
            .insertInto('verification_log')
            .values(rows.slice(i, i + 200))
            .execute();
        const batches: number[] = [];
        const cutoff = new Date(Date.UTC(2026, 0, 1) + 2500 * 1000).toISOString();
        const n = await deleteLogsBefore(t.kw.storage.db, cutoff, {
          batchMax: 700,
          onBatch: (rows) => batches.push(rows),
        });
        assert.equal(n, 2500);
        assert.ok(batches.length >= 4 && batches.every((b) => b <= 700), `batches ${batches.join(',')}`);
        assert.equal(await sumCounts(t.kw.storage), 100);
      } finally {
        await t.close();
      }
    });
  });
}

describe('per-verification event lines (KEYWARDEN_VERIFY_EVENTS)', () => {
  test('one JSON line per verification, never the key, written after the answer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kw-events-'));
    const file = join(dir, 'events.jsonl');
    const t = await startServer({ name: 'sqlite' }, { env: { KEYWARDEN_VERIFY_EVENTS: `file:${file}` } });
    try {
      const k = await createKey(t, { permissions: ['agents:invoke'] });
      await verify(t, { key: k.key, permission: 'agents:invoke', ip: '192.0.2.5' });
      await verify(t, { key: 'kw_prod_nope' });
    } finally {
      await t.close();
    }
    const text = readFileSync(file, 'utf8');
    rmSync(dir, { recursive: true, force: true });
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 2);
    assert.equal(lines[0]?.code, 'VALID');
    assert.equal(lines[0]?.ip, '192.0.2.5');
    assert.equal(typeof lines[0]?.keyId, 'string');
    assert.equal(lines[1]?.code, 'MALFORMED');
    assert.ok(
      !text.includes('kw_prod_nope') || !/"kw_prod_nope"/.test(text),
      'the presented string is not echoed',
    );
    assert.equal(
      Object.keys(lines[0] ?? {}).join(','),
      'at,keyId,keyStart,environment,permissions,resource,code,ip,userAgent,latencyUs',
    );
  });

  test('the setting is checked at start', () => {
    assert.throws(() => loadConfig({ KEYWARDEN_VERIFY_EVENTS: 'syslog' }), /KEYWARDEN_VERIFY_EVENTS/);
    assert.throws(
      () => loadConfig({ KEYWARDEN_LOG_MAX_ROWS_PER_MINUTE: '0' }),
      /KEYWARDEN_LOG_MAX_ROWS_PER_MINUTE/,
    );
    assert.equal(loadConfig({}).logMaxRowsPerMinute, 50_000);
  });
});
