import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKey } from '../core/keys.js';
import { DIALECTS, call, createKey, startServer, verify, type TestServer } from '../testing/harness.js';

const BIN = new URL('../../bin/keywarden.js', import.meta.url).pathname;

function kw(
  args: string[],
  env: Record<string, string>,
  cwd?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...env }, cwd, maxBuffer: 10 * 1024 * 1024 },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
      },
    );
  });
}

describe('keywarden scan and drill', { timeout: 120_000 }, () => {
  let t: TestServer;
  let env: Record<string, string>;
  let dir: string;
  before(async () => {
    t = await startServer({ name: 'sqlite' });
    await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
    env = {
      KEYWARDEN_URL: `http://127.0.0.1:${(t.kw.app.server.address() as AddressInfo).port}`,
      KEYWARDEN_ADMIN_KEY: t.root,
    };
    dir = mkdtempSync(join(tmpdir(), 'kw-scan-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t.close();
  });

  test('scan finds checksum-valid keys with file:line, honours .gitignore, skips binaries and big files', async () => {
    const live = await createKey(t, { name: 'crm-prod-scanned' });
    const stranger = generateKey('kw', 'dev');
    mkdirSync(join(dir, 'src', 'deep'), { recursive: true });
    writeFileSync(join(dir, 'src', 'config.ts'), `// config\nexport const KEY = '${live.key}';\n`);
    writeFileSync(
      join(dir, 'src', 'deep', 'notes.md'),
      `old: ${stranger}\nfake: kw_prod_${'Q'.repeat(36)}\n`,
    );
    writeFileSync(join(dir, '.gitignore'), 'secrets.env\nbuild/\n');
    writeFileSync(join(dir, 'secrets.env'), `KEY=${live.key}\n`);
    mkdirSync(join(dir, 'build'));
    writeFileSync(join(dir, 'build', 'out.js'), live.key);
    writeFileSync(join(dir, 'image.bin'), Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(live.key)]));
    writeFileSync(join(dir, 'huge.log'), `${'x'.repeat(2000)}\n${live.key}\n`);
    const r = await kw(['scan', dir, '--json', '--max-size', '1000'], env);
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as {
      findings: { file: string; line: number; masked: string; kind: string }[];
      filesScanned: number;
      skipped: number;
    };
    assert.deepEqual(
      out.findings.map((f) => [f.file.split('/').slice(-2).join('/'), f.line, f.kind]).sort(),
      [
        ['deep/notes.md', 1, 'development'],
        ['src/config.ts', 2, 'production'],
      ],
    );
    assert.ok(!r.stdout.includes(live.key), 'masked only');
    assert.ok(out.skipped >= 3);
    const human = await kw(['scan', join(dir, 'src')], env);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /2 key\(s\) found/);
    const clean = await kw(['scan', join(dir, '.gitignore')], env);
    assert.equal(clean.code, 0);

    const rep = await kw(['scan', join(dir, 'src'), '--report', '--json'], env);
    assert.equal(rep.code, 1);
    const reported = (JSON.parse(rep.stdout) as { reported: { action: string }[] }).reported
      .map((x) => x.action)
      .sort();
    assert.deepEqual(reported, ['disabled', 'unknown']);
    assert.equal((await verify(t, { key: live.key })).code, 'DISABLED');
    const rule = await kw(['scan', '--gitleaks-rule'], env);
    assert.match(rule.stdout, /\[\[rules\]\]/);
    assert.equal((await kw(['scan', join(dir, 'nope')], env)).code, 2);
  });

  test('drill passes its seven checks against a running server and cleans up its key', async () => {
    const r = await kw(['drill', '--json', '--permission', 'agents:invoke', '--resource', 'agt_42'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      keyId: string;
      checks: { name: string; ok: boolean; detail: string }[];
    };
    assert.equal(out.ok, true);
    assert.equal(out.checks.length, 7);
    assert.ok(
      out.checks.every((c) => c.ok),
      JSON.stringify(out.checks),
    );
    assert.equal((await call(t, 'GET', `/v1/keys/${out.keyId}`)).body.status, 'deleted');
    const human = await kw(['drill'], env);
    assert.equal(human.code, 0, human.stdout);
    assert.match(human.stdout, /7\. the verification log shows every attempt/);
    assert.match(human.stdout, /drill passed/);
  });

  test('a drill whose key cannot be created fails with exit 1 and says why', async () => {
    const r = await kw(['drill', '--json', '--permission', 'not a permission'], env);
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout) as { ok: boolean; checks: { ok: boolean; detail: string }[] };
    assert.equal(out.ok, false);
    assert.match(out.checks[0]?.detail ?? '', /could not create the drill key/);
  });
});

// The drill's check 7 reads the minute rows (`count`) and lastUsedAt: the same against a server on
// PostgreSQL (the suite above runs on SQLite).
for (const dialect of DIALECTS.filter((d) => d.name !== 'sqlite')) {
  describe(`keywarden drill (${dialect.name})`, { timeout: 120_000 }, () => {
    let t: TestServer;
    let env: Record<string, string>;
    before(async () => {
      t = await startServer(dialect);
      await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
      env = {
        KEYWARDEN_URL: `http://127.0.0.1:${(t.kw.app.server.address() as AddressInfo).port}`,
        KEYWARDEN_ADMIN_KEY: t.root,
      };
    });
    after(async () => {
      await t.close();
    });

    test('drill passes its seven checks, check 7 counting the attempts in minute rows', async () => {
      const r = await kw(['drill', '--json', '--permission', 'agents:invoke'], env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const out = JSON.parse(r.stdout) as {
        ok: boolean;
        checks: { name: string; ok: boolean; detail: string }[];
      };
      assert.equal(out.ok, true, JSON.stringify(out.checks));
      assert.match(out.checks[6]?.detail ?? '', /attempts logged; lastUsedAt 20/);
    });
  });
}
