import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../testing/harness.js';
import { output } from './io.js';
import { run } from './main.js';

// The CLI runs in-process, as in keys-cli.test.ts: its output goes through `output`.
describe('keywarden identities: create, list, show, update, delete; keys link with --identity', () => {
  let t: TestServer;
  let globals: string[];
  before(async () => {
    t = await startServer({ name: 'sqlite' });
    await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = t.kw.app.server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    globals = ['--url', `http://127.0.0.1:${port}`, '--admin-key', t.root];
  });
  after(async () => t.close());

  async function kw(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const saved = { ...output };
    let stdout = '';
    let stderr = '';
    output.out = (s) => void (stdout += s);
    output.err = (s) => void (stderr += s);
    try {
      const code = await run(['node', 'keywarden', ...args, ...globals]);
      return { code, stdout, stderr };
    } finally {
      Object.assign(output, saved);
    }
  }

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
