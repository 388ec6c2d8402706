import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { aKey, startServer, type TestServer } from '../testing/harness.js';
import { generateKey } from '../core/keys.js';
import { KeywardenApiError as CoreApiError } from '../core/problem-error.js';
import { KeywardenApiError, KeywardenClient, KeywardenConnectionError, type KeyInput } from './client.js';
import * as sdk from './index.js';

describe('SDK client', () => {
  let t: TestServer;
  let kw: KeywardenClient;
  before(async () => {
    t = await startServer({ name: 'sqlite' });
    await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = t.kw.app.server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    kw = new KeywardenClient({ url: `http://127.0.0.1:${port}/`, adminKey: t.root });
  });
  after(async () => t.close());

  test('round trip: create, get, list, update, verify, disable, regenerate, delete, records', async () => {
    const { key, record } = await kw.createKey(aKey({ name: 'crm-prod-sdk' }) as never);
    assert.equal((await kw.getKey(record.id)).name, 'crm-prod-sdk');
    assert.ok((await kw.listKeys({ q: 'sdk' })).items.some((k) => k.id === record.id));
    assert.equal((await kw.updateKey(record.id, { purpose: 'sdk-test' })).purpose, 'sdk-test');
    assert.equal(
      (await kw.verify({ key, environment: 'production', permission: 'agents:invoke', resource: 'agt_42' }))
        .code,
      'VALID',
    );
    assert.equal((await kw.disableKey(record.id, 'x')).status, 'disabled');
    assert.equal((await kw.verify({ key, environment: 'production' })).code, 'DISABLED');
    assert.equal((await kw.enableKey(record.id)).status, 'active');
    const regen = await kw.regenerateKey(record.id, 60);
    assert.equal((await kw.verify({ key: regen.key, environment: 'production' })).code, 'VALID');
    const preview = await kw.previewPolicy({ naming: { denyList: ['sdk'] } });
    assert.deepEqual(
      preview.rules.map((r) => [r.rule, r.keys.map((k) => k.name)]),
      [['naming.denyList', ['crm-prod-sdk']]],
    );
    assert.deepEqual((await kw.previewTeamPolicy('crm', { requireOwner: true })).rules, []);
    assert.equal((await kw.deleteKey(record.id)).status, 'deleted');
    assert.equal((await kw.verifyAudit()).ok, true);
    assert.ok((await kw.listAudit({ target: record.id })).items.length >= 5);
    assert.ok('unowned' in (await kw.governanceReport()));
    assert.equal((await kw.getPolicy()).staleAfterDays, 90);
    const adm = await kw.createAdminKey({ name: 'sdk-admin', permissions: ['keys:read'] });
    assert.ok((await kw.listAdminKeys()).items.some((a) => a.id === adm.record.id));
    assert.equal((await kw.deleteAdminKey(adm.record.id)).status, 'deleted');
  });

  test('roles and import: create, read, assign, change, import, delete', async () => {
    const role = await kw.createRole({ name: 'sdk-role', permissions: ['sdk:use'] });
    assert.equal(role.keys, 0);
    assert.ok((await kw.listRoles()).items.some((r) => r.name === 'sdk-role'));
    const { key, record } = await kw.createKey({
      ...(aKey({ name: 'crm-prod-sdk-role' }) as unknown as KeyInput),
      roles: ['sdk-role'],
    });
    assert.equal((await kw.getRole('sdk-role')).keys, 1);
    assert.equal((await kw.verify({ key, environment: 'production', permission: 'sdk:use' })).code, 'VALID');
    assert.deepEqual((await kw.updateRole('sdk-role', { permissions: ['sdk:other'] })).permissions, [
      'sdk:other',
    ]);
    assert.equal(
      (await kw.verify({ key, environment: 'production', permission: 'sdk:use' })).code,
      'INSUFFICIENT_PERMISSIONS',
    );
    const held = await kw.deleteRole('sdk-role').catch((e: unknown) => e);
    assert.ok(held instanceof KeywardenApiError && held.status === 409);
    await kw.updateKey(record.id, { roles: [] });
    assert.equal((await kw.deleteRole('sdk-role')).name, 'sdk-role');
    const plain = `legacy_${'x'.repeat(8)}${Date.now()}`;
    const r = await kw.importKeys([
      { ...(aKey({ name: 'crm-prod-sdk-import' }) as unknown as KeyInput), key: plain },
    ]);
    assert.deepEqual([r.imported, r.refused], [1, 0]);
    assert.equal((await kw.verify({ key: plain, environment: 'production' })).code, 'VALID');
  });

  test('problems become KeywardenApiError with status, code, detail and request id', async () => {
    const err = await kw.getKey('key_missing').catch((e: unknown) => e);
    assert.ok(err instanceof KeywardenApiError);
    assert.deepEqual([err.status, err.code, err.detail], [404, 'NOT_FOUND', 'no key with id key_missing']);
    assert.match(err.requestId ?? '', /^req_/);
    const unknown = generateKey('kw', 'adm');
    const bad = new KeywardenClient({ url: kw['opts'].url, adminKey: unknown });
    const e401 = await bad.listKeys().catch((e: unknown) => e);
    assert.ok(e401 instanceof KeywardenApiError);
    assert.equal(e401.status, 401);
    assert.ok(!e401.message.includes(unknown));
    const down = new KeywardenClient({ url: 'http://127.0.0.1:9', adminKey: t.root, timeoutMs: 2000 });
    await assert.rejects(down.listKeys(), KeywardenConnectionError);
  });

  test('one error class for the SDK and the web console: the browser-safe core one', async () => {
    assert.equal(KeywardenApiError, CoreApiError);
    assert.equal(sdk.KeywardenApiError, CoreApiError);
    // A proxy's HTML error page in front of Keywarden is still a KeywardenApiError, with the status.
    const proxy = createServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>Bad Gateway</body></html>');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = proxy.address() as AddressInfo;
      const behind = new KeywardenClient({ url: `http://127.0.0.1:${port}`, adminKey: t.root });
      const err = await behind.listKeys().catch((e: unknown) => e);
      assert.ok(err instanceof KeywardenApiError, String(err));
      assert.deepEqual(
        [err.status, err.code, err.detail, err.title],
        [502, 'HTTP_502', 'the server answered 502 Bad Gateway', 'Bad Gateway'],
      );
    } finally {
      await new Promise<void>((resolve) => {
        proxy.close(() => {
          resolve();
        });
      });
    }
  });

  test('a missing or malformed admin key, or a URL without a scheme, throws at construction', () => {
    const url = 'http://127.0.0.1:1';
    assert.throws(() => new KeywardenClient({ url, adminKey: '' }), /adminKey` is missing/);
    assert.throws(
      () => new KeywardenClient({ url, adminKey: undefined as unknown as string }),
      /adminKey` is missing/,
    );
    const typo = t.root.slice(0, -1) + (t.root.endsWith('a') ? 'b' : 'a');
    assert.throws(
      () => new KeywardenClient({ url, adminKey: typo }),
      (e: Error) => /not a well-formed admin key/.test(e.message) && !e.message.includes(typo),
    );
    assert.throws(
      () => new KeywardenClient({ url, adminKey: generateKey('kw', 'prod') }),
      /not a well-formed admin key/,
    );
    assert.throws(
      () => new KeywardenClient({ url: 'localhost:8080', adminKey: t.root }),
      /no http:\/\/ or https:\/\/ scheme/,
    );
  });
});
