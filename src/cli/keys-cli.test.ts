import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../testing/harness.js';
import { cliGlobals, runCli, type CliRun } from '../testing/cli.js';
import { fitColumns, terminal } from './io.js';
import type { KeywardenClient } from '../sdk/client.js';
import { parseDuration, resolveKey } from './commands/keys.js';

interface KeyJson {
  id: string;
  name: string;
  status: string;
  disabledReason: string | null;
  permissions: string[];
  ratelimits: unknown[];
  ipAllowlist: string[];
  expiresAt: string | null;
}

// The CLI runs in-process (no child process per call): its output goes through `output`.
describe('keywarden keys: names, durations, clearing, confirmation, typos, tables', () => {
  let t: TestServer;
  let globals: string[];
  before(async () => {
    t = await startServer({ name: 'sqlite' });
    globals = await cliGlobals(t);
  });
  after(async () => t.close());

  const kw = (args: string[]): Promise<CliRun> => runCli(args, globals);
  const json = async (args: string[]): Promise<KeyJson> => {
    const r = await kw([...args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as KeyJson | { record: KeyJson };
    return 'record' in out ? out.record : out;
  };
  const create = (name: string, env = 'development', extra: string[] = []): Promise<KeyJson> =>
    json([
      'keys',
      'create',
      '--name',
      name,
      '--environment',
      env,
      '--team',
      'crm',
      '--contact',
      'c@x',
      '--expires-in',
      '2w',
      '--permission',
      'agents:invoke',
      ...extra,
    ]);

  test('durations: units s m h d w y, plain seconds for --grace, a clear error otherwise', async () => {
    assert.equal(parseDuration('--x', '30m'), 1_800_000);
    assert.equal(parseDuration('--x', '1h'), 3_600_000);
    assert.equal(parseDuration('--x', '2w'), 14 * 86_400_000);
    assert.equal(parseDuration('--x', '1y'), 365 * 86_400_000);
    assert.equal(parseDuration('--grace', '300', 's'), 300_000);
    assert.throws(() => parseDuration('--expires-in', '300'), /not a duration/);
    const k = await create('crm-dev-dur');
    const inDays = (Date.parse(k.expiresAt ?? '') - Date.now()) / 86_400_000;
    assert.ok(inDays > 13.9 && inDays <= 14, String(inDays));
    const bad = await kw(['keys', 'update', k.id, '--expires-in', 'soon']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--expires-in "soon" is not a duration: use .*30m, 1h, 90d, 2w, 1y/);
    const badGrace = await kw(['keys', 'regenerate', k.id, '--grace', '5 minutes', '--yes']);
    assert.equal(badGrace.code, 2);
    assert.match(badGrace.stderr, /--grace "5 minutes" is not a duration/);
    const year = await json(['keys', 'update', k.id, '--expires', '1y']);
    assert.ok(Date.parse(year.expiresAt ?? '') - Date.now() > 364 * 86_400_000);
  });

  test('clearing: --expires never, --no-ratelimit, --no-ip-allowlist', async () => {
    const k = await create('crm-dev-clear', 'development', [
      '--ratelimit',
      'default:10:60',
      '--ip',
      '10.0.0.0/8',
    ]);
    assert.equal(k.ratelimits.length, 1);
    const cleared = await json([
      'keys',
      'update',
      k.id,
      '--expires',
      'never',
      '--no-ratelimit',
      '--no-ip-allowlist',
    ]);
    assert.equal(cleared.expiresAt, null);
    assert.deepEqual(cleared.ratelimits, []);
    assert.deepEqual(cleared.ipAllowlist, []);
    const help = await kw(['keys', 'update', '--help']);
    assert.match(help.stdout, /--no-ratelimit/);
    assert.match(help.stdout, /--no-ip-allowlist/);
    assert.match(help.stdout, /or never/);
  });

  test('by name: show, update (add/remove permission), disable twice keeps the reason, regenerate, delete', async () => {
    const k = await create('crm-dev-byname');
    assert.equal((await json(['keys', 'show', 'crm-dev-byname'])).id, k.id);
    const upd = await json([
      'keys',
      'update',
      'crm-dev-byname',
      '--add-permission',
      'workflows:run',
      '--add-permission',
      'agents:read',
      '--remove-permission',
      'agents:invoke',
    ]);
    assert.deepEqual(upd.permissions, ['workflows:run', 'agents:read']);
    const notHeld = await kw(['keys', 'update', k.id, '--remove-permission', 'nope:x']);
    assert.equal(notHeld.code, 2);
    assert.match(notHeld.stderr, /does not have nope:x/);
    await json(['keys', 'disable', 'crm-dev-byname', '--reason', 'leak drill']);
    const again = await json(['keys', 'disable', 'crm-dev-byname']);
    assert.equal(again.disabledReason, 'leak drill', 'the first reason is kept');
    assert.equal((await json(['keys', 'enable', 'crm-dev-byname'])).status, 'active');
    const regen = await kw(['keys', 'regenerate', 'crm-dev-byname', '--grace', '30m']);
    assert.equal(regen.code, 0, regen.stderr);
    assert.match(regen.stdout, /keeps working for 1800 s/);
    // The same name in two environments: ambiguous (a stand-in for the list API, whose
    // default policy forbids such names).
    const two = [
      { ...upd, environment: 'development' },
      { ...upd, id: 'key_other', environment: 'staging' },
    ];
    const fake = { listKeys: () => Promise.resolve({ items: two, nextCursor: null }) };
    await assert.rejects(
      resolveKey(fake as unknown as KeywardenClient, 'crm-dev-byname'),
      /matches 2 keys: key_\w+ \(development, active\), key_other \(staging, active\); pass the id/,
    );
    assert.equal((await json(['keys', 'delete', k.id])).status, 'deleted');
    const unknown = await kw(['keys', 'disable', 'no-such-key']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no key named "no-such-key".*\(NOT_FOUND\)/);
  });

  test('destructive commands ask on a terminal; n cancels, y or --yes proceeds', async () => {
    const k = await create('crm-dev-confirm');
    const saved = { ...terminal };
    const asked: string[] = [];
    let answer = 'n';
    terminal.isInteractive = () => true;
    terminal.ask = (q) => {
      asked.push(q);
      return Promise.resolve(answer);
    };
    try {
      const no = await kw(['keys', 'delete', 'crm-dev-confirm']);
      assert.equal(no.code, 1);
      assert.match(no.stderr, /cancelled: nothing changed/);
      assert.match(
        asked[0] ?? '',
        /Delete key crm-dev-confirm \(key_\w+\)\? This cannot be undone\. \[y\/N\]/,
      );
      assert.equal((await json(['keys', 'show', k.id])).status, 'active');
      assert.equal((await kw(['keys', 'disable', k.id])).code, 1);
      assert.equal((await kw(['keys', 'regenerate', k.id])).code, 1);
      assert.equal((await kw(['admin-keys', 'delete', 'adm_nope'])).code, 1);
      assert.equal(asked.length, 4);
      assert.equal((await json(['keys', 'show', k.id])).status, 'active');
      assert.equal((await kw(['keys', 'disable', k.id, '--yes'])).code, 0);
      assert.equal(asked.length, 4, '--yes does not ask');
      answer = 'y';
      assert.equal((await json(['keys', 'delete', k.id])).status, 'deleted');
    } finally {
      Object.assign(terminal, saved);
    }
  });

  test('a typo in an option is unknown (with a suggestion), not a missing required option', async () => {
    const typo = await kw(['keys', 'create', '--nmae', 'x', '--environment', 'production']);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown option '--nmae'/);
    assert.match(typo.stderr, /Did you mean --name\?/);
    assert.doesNotMatch(typo.stderr, /required option/);
    const missing = await kw(['keys', 'create', '--environment', 'production']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /required option '--name <name>' not specified/);
    const asJson = await kw(['keys', 'create', '--environment', 'production', '--json']);
    assert.equal((JSON.parse(asJson.stderr) as { code: string }).code, 'USAGE');
  });

  test('tables fit COLUMNS, truncating with …, and draw no rule between rows', async () => {
    await create('crm-dev-a-rather-long-name-for-a-narrow-terminal');
    const saved = process.env.COLUMNS;
    process.env.COLUMNS = '70';
    try {
      const r = await kw(['keys', 'list']);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      for (const l of lines) assert.ok(l.length <= 70, `too wide: ${l}`);
      assert.match(r.stdout, /…/);
      assert.equal(lines.filter((l) => l.startsWith('├')).length, 0, 'no rule between rows');
      assert.ok(lines.filter((l) => l.startsWith('│')).length > 3);
    } finally {
      if (saved === undefined) delete process.env.COLUMNS;
      else process.env.COLUMNS = saved;
    }
    assert.deepEqual(fitColumns([10, 40, 10], 100), [10, 40, 10], 'no shrinking when it fits');
    assert.deepEqual(fitColumns([10, 40, 10], 44), [10, 20, 10]);
  });
});
