import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStorage } from './storage/db.js';
import { aKey } from './testing/harness.js';

const BIN = new URL('../bin/keywarden.js', import.meta.url).pathname;

test('SIGTERM flushes the last usage batch before the process exits', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-shutdown-'));
  try {
    // A flush interval of an hour: only the shutdown flush can write these rows.
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: {
        ...process.env,
        KEYWARDEN_DATA_DIR: dir,
        KEYWARDEN_PORT: '0',
        KEYWARDEN_USAGE_FLUSH_MS: '3600000',
        KEYWARDEN_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => {
        resolve(code);
      }),
    );
    const deadline = Date.now() + 30_000;
    while (!/listening at (http:\/\/[0-9.:]+)/.test(out)) {
      if (Date.now() > deadline) throw new Error(`server did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = /listening at (http:\/\/[0-9.:]+)/.exec(out)?.[1] ?? '';
    const root = /(kw_adm_[0-9A-Za-z]+)/.exec(out)?.[1] ?? '';
    const h = { authorization: `Bearer ${root}`, 'content-type': 'application/json' };
    const created = (await (
      await fetch(`${url}/v1/keys`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify(aKey({ name: 'job-prod-nightly' })),
      })
    ).json()) as { key: string; record: { id: string } };
    for (let i = 0; i < 25; i++) {
      const r = await fetch(`${url}/v1/verify`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({ key: created.key, environment: 'production' }),
      });
      assert.equal(((await r.json()) as { code: string }).code, 'VALID');
    }
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    assert.match(out, /shutting down/);
    const s = openStorage({ dataDir: dir });
    // Minute rows: the calls are the sum of their counts.
    const rows = await s.db
      .selectFrom('verification_log')
      .select('count')
      .where('key_id', '=', created.record.id)
      .execute();
    const key = await s.db
      .selectFrom('keys')
      .select('last_used_at')
      .where('id', '=', created.record.id)
      .executeTakeFirstOrThrow();
    await s.close();
    assert.equal(
      rows.reduce((n, r) => n + r.count, 0),
      25,
    );
    assert.notEqual(key.last_used_at, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
