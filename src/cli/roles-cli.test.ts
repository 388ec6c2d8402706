import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServer, verify, type TestServer } from '../testing/harness.js';
import { cliGlobals, runCli, type CliRun } from '../testing/cli.js';
import { parseCsv, progressLine } from './commands/import.js';

describe('keywarden roles and keywarden keys import', () => {
  let t: TestServer;
  let globals: string[];
  let dir: string;
  before(async () => {
    t = await startServer({ name: 'sqlite' });
    globals = await cliGlobals(t);
    dir = mkdtempSync(join(tmpdir(), 'kw-import-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t.close();
  });

  const kw = (args: string[]): Promise<CliRun> => runCli(args, globals);

  test('roles create, list, update, show; keys create --role; delete refused while held', async () => {
    const c = await kw(['roles', 'create', 'cli-role', '--permission', 'docs:read', '--description', 'docs']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /docs:read/);
    const k = await kw([
      'keys',
      'create',
      '--name',
      'cli-dev-role',
      '--environment',
      'development',
      '--role',
      'cli-role',
      '--team',
      'crm',
      '--contact',
      'c@x',
      '--json',
    ]);
    assert.equal(k.code, 0, k.stderr);
    const created = JSON.parse(k.stdout) as { key: string; record: { id: string; roles: string[] } };
    assert.deepEqual(created.record.roles, ['cli-role']);
    const l = await kw(['roles', 'list']);
    assert.match(l.stdout, /cli-role\s.*docs:read\s.*1\s/);
    const u = await kw(['roles', 'update', 'cli-role', '--add-permission', 'docs:write', '--json']);
    assert.equal(u.code, 0, u.stderr);
    assert.deepEqual((JSON.parse(u.stdout) as { permissions: string[] }).permissions, [
      'docs:read',
      'docs:write',
    ]);
    const v = await verify(t, { key: created.key, environment: 'development', permission: 'docs:write' });
    assert.equal(v.code, 'VALID');
    const d = await kw(['roles', 'delete', 'cli-role', '--yes']);
    assert.equal(d.code, 1);
    assert.match(d.stderr, /still held by 1 key/);
  });

  test('import from .jsonl and .csv: plain progress lines off a terminal, refusals with their line', async () => {
    const a = `legacy_${randomBytes(16).toString('hex')}`;
    const b = `legacy_${randomBytes(16).toString('hex')}`;
    const owner = { team: 'crm', contact: 'c@x' };
    const jsonl = join(dir, 'keys.jsonl');
    writeFileSync(
      jsonl,
      [
        JSON.stringify({ name: 'legacy-dev-one', environment: 'development', owner, key: a }),
        '',
        JSON.stringify({
          name: 'legacy-dev-two',
          environment: 'development',
          owner,
          hash: { algorithm: 'sha256', encoding: 'hex', value: createHash('sha256').update(b).digest('hex') },
        }),
        JSON.stringify({ name: 'legacy-dev-bad', environment: 'development', owner, key: 'short' }),
      ].join('\n'),
    );
    const r = await kw(['keys', 'import', jsonl]);
    assert.equal(r.code, 1, 'a refused item makes the exit code 1');
    assert.match(r.stderr, /^progress: 3\/3 \(imported 2, refused 1\)$/m);
    assert.match(r.stderr, /keys\.jsonl:4: legacy-dev-bad refused: the key is shorter than 16/);
    assert.match(r.stdout, /Imported 2 key\(s\), refused 1\./);
    for (const key of [a, b])
      assert.equal((await verify(t, { key, environment: 'development' })).code, 'VALID');

    const c1 = `legacy_${randomBytes(16).toString('hex')}`;
    const c2 = `legacy_${randomBytes(16).toString('hex')}`;
    const csv = join(dir, 'keys.csv');
    writeFileSync(
      csv,
      'name,environment,team,contact,permissions,key,sha256_base64\n' +
        `legacy-dev-csv1,development,crm,c@x,"docs:read;docs:write",${c1},\n` +
        `legacy-dev-csv2,development,crm,c@x,,,${createHash('sha256').update(c2).digest('base64')}\n`,
    );
    const rc = await kw(['keys', 'import', csv, '--json']);
    assert.equal(rc.code, 0, rc.stderr);
    const out = JSON.parse(rc.stdout) as { imported: number; items: { line: number; status: string }[] };
    assert.equal(out.imported, 2);
    assert.deepEqual(
      out.items.map((i) => i.line),
      [2, 3],
    );
    const v = await verify(t, { key: c1, environment: 'development', permission: 'docs:write' });
    assert.equal(v.code, 'VALID');
    assert.equal((await verify(t, { key: c2, environment: 'development' })).code, 'VALID');
    const bad = await kw(['keys', 'import', join(dir, 'keys.txt')]);
    assert.equal(bad.code, 2);
  });

  test('the progress bar on a terminal; CSV quoting', () => {
    assert.equal(
      progressLine(5, 10, 4, 1, true),
      `\r[${'#'.repeat(15)}${'-'.repeat(15)}] 5/10 (imported 4, refused 1)`,
    );
    assert.ok(progressLine(10, 10, 10, 0, true).endsWith('\n'));
    assert.deepEqual(parseCsv('a,"b,c","d""e"\r\n\n1,2,3'), [
      ['a', 'b,c', 'd"e'],
      ['1', '2', '3'],
    ]);
  });
});
