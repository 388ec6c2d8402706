import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStorage } from '../storage/db.js';
import { verifyAuditChain, withAuditKey } from '../storage/audit-repo.js';
import { loadConfig } from '../config.js';
import { deriveServerKeys } from '../core/secrets.js';
import { resolveServerSecret } from '../server-secret.js';

const BIN = new URL('../../bin/keywarden.js', import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kw(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, KEYWARDEN_ADMIN_KEY: '', KEYWARDEN_URL: '', ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
      },
    );
  });
}

describe('operator commands on the store: backup, recover-root', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-cli-op-'));
  const env = { KEYWARDEN_DATA_DIR: dir };
  before(async () => {
    const init = await kw(['init', '--json'], env);
    assert.equal(init.code, 0, init.stderr);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('backup makes a consistent copy that opens as a store; it never overwrites without --force', async () => {
    const file = join(dir, 'copy.db');
    const r = await kw(['backup', file, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { integrity: string }).integrity, 'ok');
    const copyDir = mkdtempSync(join(tmpdir(), 'kw-cli-restore-'));
    try {
      // Restore = put the copy in place as keywarden.db.
      const restoredFile = join(copyDir, 'keywarden.db');
      assert.equal((await kw(['backup', restoredFile], env)).code, 0);
      const s = openStorage({ dataDir: copyDir });
      const admins = await s.db.selectFrom('admin_keys').select('name').execute();
      assert.deepEqual(
        admins.map((a) => a.name),
        ['root'],
      );
      await s.close();
    } finally {
      rmSync(copyDir, { recursive: true, force: true });
    }
    const again = await kw(['backup', file], env);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists: choose another file or pass --force/);
    assert.equal((await kw(['backup', file, '--force'], env)).code, 0);
    const pg = await kw(['backup', join(dir, 'x.db')], { ...env, KEYWARDEN_DATABASE_URL: 'postgres://h/db' });
    assert.equal(pg.code, 2);
    assert.match(pg.stderr, /pg_dump/);
  });

  test('recover-root creates a working * key, audited with the operator, the chain intact', async () => {
    const r = await kw(['admin-keys', 'recover-root', '--yes', '--reason', 'drill', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { key: string; record: { id: string; permissions: string[] } };
    assert.match(out.key, /^kw_adm_/);
    assert.deepEqual(out.record.permissions, ['*']);
    const s = openStorage({ dataDir: dir });
    try {
      const rows = await s.db
        .selectFrom('audit_log')
        .select(['action', 'after'])
        .where('action', 'in', ['admin_key.recover_root', 'admin_key.create'])
        .execute();
      const recover = rows.find((x) => x.action === 'admin_key.recover_root');
      assert.ok(recover !== undefined);
      assert.match(String(recover.after), /"reason":"drill"/);
      assert.match(String(recover.after), /"operator":"[^"]+@/);
      assert.ok(!JSON.stringify(rows).includes(out.key), 'no secret in the audit log');
      // The chain is keyed by the store's secret (generated into the data directory by init).
      const keys = deriveServerKeys(resolveServerSecret(loadConfig({ KEYWARDEN_DATA_DIR: dir })));
      assert.equal((await verifyAuditChain(withAuditKey(s.db, keys.auditChain))).ok, true);
    } finally {
      await s.close();
    }
  });

  test('an uninitialised store refuses recover-root', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'kw-cli-empty-'));
    try {
      const r = await kw(['admin-keys', 'recover-root', '--yes'], { KEYWARDEN_DATA_DIR: empty });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /not initialised/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('CLI ergonomics', () => {
  test('a closed pipe ends the command quietly (no EPIPE stack)', async () => {
    const child = spawn(process.execPath, [BIN, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });

  test('--json errors are problem objects; subcommand help lists the global options', async () => {
    const noKey = await kw(['keys', 'list', '--json']);
    assert.equal(noKey.code, 2);
    const p = JSON.parse(noKey.stderr) as { code: string; detail: string };
    assert.equal(p.code, 'USAGE');
    assert.match(p.detail, /no admin key/);
    const unknownOpt = await kw(['keys', 'list', '--jsno', '--json']);
    assert.equal(unknownOpt.code, 2);
    assert.match(
      (JSON.parse(unknownOpt.stderr.trim()) as { detail: string }).detail,
      /unknown option '--jsno'/,
    );
    const help = await kw(['keys', 'list', '--help']);
    assert.match(help.stdout, /--admin-key/);
    const noScheme = await kw(['keys', 'list', '--url', 'localhost:8080', '--admin-key', 'kw_adm_x']);
    assert.equal(noScheme.code, 2);
    assert.match(noScheme.stderr, /no http:\/\/ or https:\/\/ scheme/);
    assert.doesNotMatch((await kw(['drill', '--help'])).stdout, /SPEC/);
  });

  test('serve --port --host --data-dir override the environment', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => {
          resolve(typeof a === 'object' && a !== null ? a.port : 0);
        });
      });
    });
    const data = mkdtempSync(join(tmpdir(), 'kw-cli-serve-'));
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--port', String(port), '--host', '127.0.0.1', '--data-dir', data],
      {
        env: { ...process.env, KEYWARDEN_PORT: '1', KEYWARDEN_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('Root admin key')) resolve();
        });
        child.on('exit', (c) => {
          reject(new Error(`serve exited ${String(c)}: ${out}`));
        });
      });
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (!ok) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(ok, 'listening on --port');
      assert.ok(existsSync(join(data, 'keywarden.db')), 'store in --data-dir');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
      rmSync(data, { recursive: true, force: true });
    }
  });
});
