import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../testing/harness.js';
import { cliGlobals, runCli, type CliRun } from '../testing/cli.js';

// The CLI runs in-process, as in keys-cli.test.ts: its output goes through `output`.
describe('keywarden identities: create, list, show, update, delete; keys link with --identity', () => {
  let t: TestServer;
  let globals: string[];
  before(async () => {
    t = await startServer({ name: 'sqlite' });
    globals = await cliGlobals(t);
  });
  after(async () => t.close());

  const kw = (args: string[]): Promise<CliRun> => runCli(args, globals);

  test('the whole lifecycle, by id or external id', async () => {
    const made = await kw([
      'identities',
      'create',
      '--external-id',
      'acme',
      '--name',
      'Acme Corp',
      '--team',
      'crm',
      '--ratelimit',
      'customer:100:60',
      '--credits',
      '500',
      '--refill',
      '500:monthly',
      '--json',
    ]);
    assert.equal(made.code, 0, made.stderr);
    const rec = JSON.parse(made.stdout) as { id: string; ratelimits: unknown[]; credits: unknown };
    assert.match(rec.id, /^idn_/);
    assert.deepEqual(rec.ratelimits, [{ name: 'customer', limit: 100, windowSeconds: 60 }]);
    assert.deepEqual(rec.credits, { remaining: 500, refill: { amount: 500, interval: 'monthly' } });

    const list = await kw(['identities', 'list', '--q', 'acm']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${rec.id}.*acme.*Acme Corp`));
    assert.match(list.stdout, /1 identity/);

    const key = await kw([
      'keys',
      'create',
      '--name',
      'crm-dev-acme',
      '--environment',
      'development',
      '--team',
      'crm',
      '--contact',
      'crm@example.com',
      '--identity',
      rec.id,
      '--json',
    ]);
    assert.equal(key.code, 0, key.stderr);
    const keyId = (JSON.parse(key.stdout) as { record: { id: string; identityId: string } }).record;
    assert.equal(keyId.identityId, rec.id);
    const linked = await kw(['keys', 'list', '--identity', rec.id, '--json']);
    assert.deepEqual(
      (JSON.parse(linked.stdout) as { items: { id: string }[] }).items.map((k) => k.id),
      [keyId.id],
    );

    const upd = await kw(['identities', 'update', 'acme', '--no-ratelimit', '--credits', '7']);
    assert.equal(upd.code, 0, upd.stderr);
    assert.match(upd.stdout, /rate limits\s*│?\s*\(none\)/);
    const show = await kw(['identities', 'show', 'acme']);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /Acme Corp/);
    assert.match(show.stdout, /1 key\(s\); last 30 days: no verifications/);
    const missing = await kw(['identities', 'show', 'nobody']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no identity with id or externalId "nobody"/);
    assert.equal((await kw(['identities', 'update', 'acme'])).code, 2, 'nothing to change');

    const unlink = await kw(['keys', 'update', keyId.id, '--no-identity', '--json']);
    assert.equal((JSON.parse(unlink.stdout) as { identityId: string | null }).identityId, null);
    const del = await kw(['identities', 'delete', rec.id, '--yes']);
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stdout, /deleted idn_\S+ \(acme\); 0 key\(s\) unlinked/);
  });
});
