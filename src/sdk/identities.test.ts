import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { aKey, startServer, type TestServer } from '../testing/harness.js';
import { KeywardenApiError, KeywardenClient } from './client.js';

describe('SDK client: identities', () => {
  let t: TestServer;
  let kw: KeywardenClient;
  before(async () => {
    t = await startServer({ name: 'sqlite' });
    await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = t.kw.app.server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    kw = new KeywardenClient({ url: `http://127.0.0.1:${port}`, adminKey: t.root });
  });
  after(async () => t.close());

  test('create, list, get, update, link a key, verify, usage, delete', async () => {
    const idn = await kw.createIdentity({
      externalId: 'acme-sdk',
      owner: { team: 'crm' },
      credits: { remaining: 2 },
    });
    assert.match(idn.id, /^idn_/);
    assert.ok((await kw.listIdentities({ externalId: 'acme-sdk' })).items.some((i) => i.id === idn.id));
    assert.equal((await kw.updateIdentity(idn.id, { name: 'Acme' })).name, 'Acme');
    assert.equal((await kw.getIdentity(idn.id)).name, 'Acme');
    const { key, record } = await kw.createKey(aKey({ identityId: idn.id }) as never);
    assert.equal(record.identityId, idn.id);
    const v = await kw.verify({ key, environment: 'production' });
    assert.equal(v.identity?.externalId, 'acme-sdk');
    assert.deepEqual(v.identity?.credits, { remaining: 1 });
    await t.kw.services.ctx.usage.flush();
    const u = await kw.getIdentityUsage(idn.id, 7);
    assert.deepEqual([u.keys, u.totals], [1, { VALID: 1 }]);
    const dup = await kw.createIdentity({ externalId: 'acme-sdk' }).catch((e: unknown) => e);
    assert.ok(dup instanceof KeywardenApiError);
    assert.deepEqual([dup.status, dup.code], [409, 'CONFLICT']);
    assert.equal((await kw.deleteIdentity(idn.id)).unlinkedKeys, 1);
  });
});
