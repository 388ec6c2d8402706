import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKey } from '../core/keys.js';
import { openStorage } from '../storage/db.js';
import { startServer, type TestServer } from '../testing/harness.js';

const BIN = new URL('../../bin/keywarden.js', import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const stderrSeen: string[] = [];

/** Runs the real binary. */
function kw(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, KEYWARDEN_ADMIN_KEY: '', KEYWARDEN_URL: '', ...env } },
      (err, stdout, stderr) => {
        stderrSeen.push(stderr);
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
      },
    );
  });
}

describe('keywarden init', () => {
  test('prints one JSON line once; a second init refuses and changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kw-cli-init-'));
    try {
      const first = await kw(['init', '--json'], { KEYWARDEN_DATA_DIR: dir });
      assert.equal(first.code, 0, first.stderr);
      const lines = first.stdout.trim().split('\n');
      assert.equal(lines.length, 1);
      const out = JSON.parse(lines[0] ?? '') as { rootKey: string; dataDir: string };
      assert.match(out.rootKey, /^kw_adm_[0-9A-Za-z]{36}$/);
      assert.equal(out.dataDir, dir);
      const s = openStorage({ dataDir: dir });
      const before = await s.db.selectFrom('admin_keys').selectAll().execute();
      const second = await kw(['init', '--json'], { KEYWARDEN_DATA_DIR: dir });
      assert.notEqual(second.code, 0);
      assert.match(second.stderr, /already initialised/);
      assert.equal(second.stdout, '');
      assert.deepEqual(await s.db.selectFrom('admin_keys').selectAll().execute(), before);
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a bad environment variable is a usage error naming it (exit 2)', async () => {
    const r = await kw(['init'], { KEYWARDEN_KEY_PREFIX: 'Not Valid' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /KEYWARDEN_KEY_PREFIX/);
  });
});

describe('keywarden CLI against a running server', { timeout: 300_000 }, () => {
  let t: TestServer;
  let env: Record<string, string>;
  const secrets: string[] = [];
  before(async () => {
    t = await startServer({ name: 'sqlite' });
    await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = t.kw.app.server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    env = { KEYWARDEN_URL: `http://127.0.0.1:${port}`, KEYWARDEN_ADMIN_KEY: t.root };
    secrets.push(t.root);
  });
  after(async () => t.close());

  const create = async (name: string, extra: string[] = []): Promise<{ key: string; id: string }> => {
    const r = await kw(
      [
        'keys',
        'create',
        '--json',
        '--name',
        name,
        '--environment',
        'production',
        '--team',
        'crm',
        '--contact',
        'crm@example.com',
        '--expires-in',
        '90d',
        '--permission',
        'agents:invoke:agt_42',
        ...extra,
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { key: string; record: { id: string } };
    secrets.push(out.key);
    return { key: out.key, id: out.record.id };
  };

  test('keys create (human): a table and the key shown once with a warning', async () => {
    const r = await kw(
      [
        'keys',
        'create',
        '--name',
        'crm-prod-human',
        '--environment',
        'production',
        '--team',
        'crm',
        '--contact',
        'c@x',
        '--expires-in',
        '30d',
        '--ratelimit',
        'default:100:60',
        '--metadata',
        '{"ticket":"OPS-1"}',
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /crm-prod-human/);
    assert.match(r.stdout, /default: 100\/60s/);
    const key = /Key: (kw_prod_\S+)/.exec(r.stdout)?.[1] ?? '';
    secrets.push(key);
    assert.match(r.stdout, /will not show it again/);
    const v = await kw(['verify', key, '--environment', 'production'], env);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /^VALID/);
  });

  test('verify: VALID exits 0; refused outcomes exit 1 with the code', async () => {
    const k = await create('crm-prod-cli-verify');
    const ok = await kw(
      [
        'verify',
        k.key,
        '--environment',
        'production',
        '--permission',
        'agents:invoke',
        '--resource',
        'agt_42',
        '--json',
      ],
      env,
    );
    assert.equal(ok.code, 0);
    assert.equal((JSON.parse(ok.stdout) as { code: string }).code, 'VALID');
    const denied = await kw(
      [
        'verify',
        k.key,
        '--environment',
        'production',
        '--permission',
        'agents:invoke',
        '--resource',
        'agt_1',
      ],
      env,
    );
    assert.equal(denied.code, 1);
    assert.match(denied.stdout, /INSUFFICIENT_PERMISSIONS/);
    const env2 = await kw(['verify', k.key, '--environment', 'staging'], env);
    assert.equal(env2.code, 1);
    assert.match(env2.stdout, /ENVIRONMENT_MISMATCH/);
  });

  test('disable, enable, regenerate, delete, each seen by verify', async () => {
    const k = await create('crm-prod-cli-life');
    const v = (key: string) =>
      kw(['verify', key, '--environment', 'production', '--json'], env).then(
        (r) => (JSON.parse(r.stdout) as { code: string }).code,
      );
    assert.equal((await kw(['keys', 'disable', k.id, '--reason', 'leak drill'], env)).code, 0);
    assert.equal(await v(k.key), 'DISABLED');
    assert.equal((await kw(['keys', 'enable', k.id], env)).code, 0);
    assert.equal(await v(k.key), 'VALID');
    const regen = await kw(['keys', 'regenerate', k.id, '--json'], env);
    assert.equal(regen.code, 0, regen.stderr);
    const fresh = (JSON.parse(regen.stdout) as { key: string }).key;
    secrets.push(fresh);
    assert.equal(await v(k.key), 'EXPIRED');
    assert.equal(await v(fresh), 'VALID');
    const upd = await kw(['keys', 'update', k.id, '--purpose', 'renamed', '--json'], env);
    assert.equal((JSON.parse(upd.stdout) as { purpose: string }).purpose, 'renamed');
    assert.equal((await kw(['keys', 'delete', k.id], env)).code, 0);
    assert.equal(await v(fresh), 'DELETED');
    const show = await kw(['keys', 'show', k.id], env);
    assert.match(show.stdout, /deleted/);
  });

  test('list with filters, JSON and --all', async () => {
    for (const n of ['pay-stg-a', 'pay-stg-b', 'pay-stg-c']) {
      const r = await kw(
        [
          'keys',
          'create',
          '--name',
          n,
          '--environment',
          'staging',
          '--team',
          'pay',
          '--contact',
          'p@x',
          '--json',
        ],
        env,
      );
      secrets.push((JSON.parse(r.stdout) as { key: string }).key);
    }
    const r = await kw(['keys', 'list', '--team', 'pay', '--limit', '2', '--all', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (JSON.parse(r.stdout) as { items: { name: string }[] }).items.map((i) => i.name),
      ['pay-stg-c', 'pay-stg-b', 'pay-stg-a'],
    );
    const human = await kw(['keys', 'list', '--environment', 'staging'], env);
    assert.match(human.stdout, /pay-stg-a/);
    assert.match(human.stdout, /3 key\(s\)/);
  });

  test('exit codes: API problem 1, bad flag 2, missing admin key 2, unreachable server 2', async () => {
    await create('crm-prod-dupe');
    const dupe = await kw(
      [
        'keys',
        'create',
        '--name',
        'crm-prod-dupe',
        '--environment',
        'production',
        '--team',
        'crm',
        '--contact',
        'c@x',
        '--expires-in',
        '9d',
      ],
      env,
    );
    assert.equal(dupe.code, 1);
    assert.match(dupe.stderr, /error: a live key named "crm-prod-dupe" already exists \(CONFLICT\)/);
    const policy = await kw(['keys', 'create', '--name', 'test', '--environment', 'production'], env);
    assert.equal(policy.code, 1);
    assert.match(policy.stderr, /POLICY_VIOLATION/);
    assert.equal((await kw(['keys', 'list', '--colour', 'red'], env)).code, 2);
    assert.equal((await kw(['keys', 'create', '--name', 'x', '--environment', 'prod'], env)).code, 2);
    assert.equal(
      (
        await kw(
          ['keys', 'create', '--name', 'x', '--environment', 'production', '--expires-in', 'soon'],
          env,
        )
      ).code,
      2,
    );
    const noKey = await kw(['keys', 'list'], { ...env, KEYWARDEN_ADMIN_KEY: '' });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /no admin key/);
    const down = await kw(['keys', 'list', '--url', 'http://127.0.0.1:9'], env);
    assert.equal(down.code, 2);
    assert.match(down.stderr, /cannot reach Keywarden/);
    const mistyped = await kw(['keys', 'list', '--admin-key', 'nope'], env);
    assert.equal(mistyped.code, 2);
    assert.match(mistyped.stderr, /not a well-formed admin key/);
    const unknown = await kw(['keys', 'list', '--admin-key', generateKey('kw', 'adm')], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /UNAUTHENTICATED/);
  });

  test('audit list and verify, admin keys, report', async () => {
    const a = await kw(['audit', '--action', 'key.create', '--json'], env);
    assert.equal(a.code, 0, a.stderr);
    assert.ok((JSON.parse(a.stdout) as { items: unknown[] }).items.length > 0);
    const chain = await kw(['audit', 'verify'], env);
    assert.equal(chain.code, 0);
    assert.match(chain.stdout, /audit chain intact/);
    const anchor = await kw(['audit', 'anchor'], env);
    assert.equal(anchor.code, 0, anchor.stderr);
    assert.equal(anchor.stdout.split('\n').length, 2, 'one JSON line, for `>> file`');
    const head = JSON.parse(anchor.stdout) as { seq: number; hash: string; at: string };
    assert.match(head.hash, /^[0-9a-f]{64}$/);
    const anchored = await kw(['audit', 'verify', '--anchor', `${head.seq}:${head.hash}`], env);
    assert.equal(anchored.code, 0, anchored.stdout);
    const forged = await kw(['audit', 'verify', '--anchor', `${head.seq}:${'0'.repeat(64)}`], env);
    assert.equal(forged.code, 1, 'a head the chain does not hold');
    const adm = await kw(
      ['admin-keys', 'create', '--name', 'verifier', '--permission', 'keys:verify', '--json'],
      env,
    );
    assert.equal(adm.code, 0, adm.stderr);
    secrets.push((JSON.parse(adm.stdout) as { key: string }).key);
    const report = await kw(['report'], env);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /unowned: \d+, stale: \d+/);
    assert.equal(
      (await kw(['report', '--fail-on-findings'], env)).code,
      1,
      'the unowned keys above are findings',
    );
  });

  test('no plaintext key ever appears on stderr', () => {
    assert.ok(secrets.length > 5 && stderrSeen.length > 10);
    const all = stderrSeen.join('\n');
    for (const s of secrets) assert.ok(!all.includes(s.slice(12, -4)), 'a key leaked to stderr');
  });
});
