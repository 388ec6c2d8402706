import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, createKey, startServer, type TestServer } from '../testing/harness.js';
import { cliGlobals, runCli, type CliRun } from '../testing/cli.js';
import { smtpServer } from '../testing/smtp.js';

// The CLI runs in-process against a listening server (with owner mail to a real SMTP server).
describe('keywarden policy show|set|preview and keywarden notifications deliveries', () => {
  let t: TestServer;
  let globals: string[];
  let dir: string;
  let smtp: Awaited<ReturnType<typeof smtpServer>>;
  before(async () => {
    smtp = await smtpServer({ user: 'kw', pass: 'secret' });
    t = await startServer(
      { name: 'sqlite' },
      { env: { KEYWARDEN_SMTP_URL: smtp.url, KEYWARDEN_MAIL_FROM: 'keywarden@example.com' } },
    );
    globals = await cliGlobals(t);
    dir = mkdtempSync(join(tmpdir(), 'kw-policy-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t.close();
    await smtp.close();
  });

  const kw = (args: string[]): Promise<CliRun> => runCli(args, globals);
  const file = (name: string, content: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };

  test('show: the deployment policy as field rows, a team effective policy, JSON', async () => {
    let r = await kw(['policy', 'show']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /naming\.pattern/);
    assert.match(r.stdout, /environments\.production\.maxLifetimeDays\s*│?\s*365/);
    r = await kw(['policy', 'show', '--team', 'crm', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const p = JSON.parse(r.stdout) as { requireOwner: boolean; naming: { teamPattern: string | null } };
    assert.deepEqual([p.requireOwner, p.naming.teamPattern], [true, null]);
  });

  test('preview: the keys that would stop complying, by rule and why; nothing changes; exit 0', async () => {
    const wild = await createKey(t, {
      name: 'pay-stg-wild-sync',
      environment: 'staging',
      owner: { team: 'pay', contact: 'pay@example.com' },
      permissions: ['pay:*'],
      expiresAt: undefined,
    });
    const other = await createKey(t, {
      name: 'ops-stg-wild-sync',
      environment: 'staging',
      owner: { team: 'ops', contact: 'ops@example.com' },
      permissions: ['ops:*'],
      expiresAt: undefined,
    });
    const strict = file('strict.json', { environments: { staging: { allowWildcards: false } } });
    const before = (await call(t, 'GET', '/v1/policy')).body;
    let r = await kw(['policy', 'preview', '--file', strict]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /allowWildcards \(2\)/);
    assert.ok(r.stdout.includes(wild.id) && r.stdout.includes(other.id), r.stdout);
    assert.match(r.stdout, /wildcard/i, 'the reason');
    assert.match(r.stdout, /2 of \d+ keys of the deployment would stop complying; nothing was changed/);
    assert.deepEqual((await call(t, 'GET', '/v1/policy')).body, before);

    r = await kw(['policy', 'preview', '--file', strict, '--team', 'pay', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const p = JSON.parse(r.stdout) as {
      affected: number;
      rules: { rule: string; keys: { keyId: string }[] }[];
    };
    assert.deepEqual(
      p.rules.map((x) => [x.rule, x.keys.map((k) => k.keyId)]),
      [['allowWildcards', [wild.id]]],
    );
    r = await kw(['policy', 'preview', '--file', file('loose.json', {})]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /No key of the deployment would stop complying/);
  });

  test('a bad policy file is a usage error (exit 2) said before anything is sent', async () => {
    const cases: [string, RegExp][] = [
      [join(dir, 'missing.json'), /cannot read .*missing\.json: ENOENT/],
      [file('broken.json', '{"requireOwner": tru'), /broken\.json is not JSON/],
      [file('list.json', [1, 2]), /list\.json is not a JSON object/],
    ];
    for (const [path, message] of cases) {
      for (const verb of ['preview', 'set']) {
        const r = await kw(['policy', verb, '--file', path]);
        assert.equal(r.code, 2, `${verb} ${path}: ${r.stdout}`);
        assert.match(r.stderr, message);
      }
    }
    const json = await kw(['policy', 'preview', '--file', join(dir, 'missing.json'), '--json']);
    assert.equal((JSON.parse(json.stderr) as { code: string }).code, 'USAGE');
    // The server's own refusals keep their detail (exit 1).
    const r = await kw(['policy', 'preview', '--file', file('colour.json', { colour: 'red' })]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /colour/);
    assert.equal((await kw(['policy', 'preview'])).code, 2, '--file is required');
  });

  test('set: the deployment policy, then a team policy that may only tighten it', async () => {
    let r = await kw(['policy', 'set', '--file', file('days.json', { staleAfterDays: 60 })]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /staleAfterDays\s*│?\s*60/);
    assert.equal((await call(t, 'GET', '/v1/policy')).body.staleAfterDays, 60);
    r = await kw(['policy', 'set', '--team', 'crm', '--file', file('team.json', { staleAfterDays: 30 })]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /team crm/);
    assert.equal((await call(t, 'GET', '/v1/teams/crm/policy')).body.staleAfterDays, 30);
    r = await kw(['policy', 'set', '--team', 'crm', '--file', file('looser.json', { requireOwner: false })]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /requireOwner.*\(POLICY_VIOLATION\)/);
    assert.equal((await kw(['policy', 'set', '--file', file('reset.json', {})])).code, 0);
  });

  test('notifications deliveries: the owner mail log, paged', async () => {
    let r = await kw(['notifications', 'deliveries']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /No owner mail yet/);
    const [a, b] = [await createKey(t), await createKey(t)];
    for (const k of [a, b]) await call(t, 'POST', `/v1/keys/${k.id}/disable`, { reason: 'cli test' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await t.kw.services.mail?.deliverDue();
    r = await kw(['notifications', 'deliveries']);
    assert.equal(r.code, 0, r.stderr);
    for (const k of [a, b]) assert.ok(r.stdout.includes(k.id), r.stdout);
    assert.match(r.stdout, /key\.disabled .*crm-oncall@example\.com/);
    assert.match(r.stdout, /sent/);
    r = await kw(['notifications', 'deliveries', '--limit', '1']);
    assert.equal(r.code, 0, r.stderr);
    const cursor = /more: --cursor (\S+)/.exec(r.stdout)?.[1];
    assert.ok(cursor !== undefined && r.stdout.includes(b.id) && !r.stdout.includes(a.id), r.stdout);
    r = await kw(['notifications', 'deliveries', '--limit', '1', '--cursor', cursor, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const page = JSON.parse(r.stdout) as { items: { keyId: string; status: string }[] };
    assert.deepEqual(
      page.items.map((d) => [d.keyId, d.status]),
      [[a.id, 'sent']],
    );
    r = await kw(['notifications', 'deliveries', '--limit', '0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /limit/);
  });
});
