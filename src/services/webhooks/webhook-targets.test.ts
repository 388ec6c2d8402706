import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { test } from 'node:test';
import { ManualClock, call, describeEachDialect } from '../../testing/harness.js';
import { freePort } from '../../testing/services.js';
import { coarseError } from './transport.js';

test('delivery logs written before coarse outcomes read as categories, never the old text', () => {
  assert.equal(coarseError('receiver answered 500', 500), 'http_error');
  assert.equal(coarseError('connect ECONNREFUSED 10.0.0.7:6379', null), 'network_error');
  assert.equal(coarseError('timeout', null), 'timeout');
  assert.equal(coarseError(null, 200), null);
});

/** A loopback receiver answering `status` (with a Location and a body a probe would want to read). */
async function receiver(
  status: number,
): Promise<{ port: number; got: IncomingHttpHeaders[]; server: Server }> {
  const got: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    got.push(req.headers);
    req.resume();
    res.writeHead(status, { location: 'http://127.0.0.1:1/elsewhere' });
    res.end('internal banner: redis 7.2 on 10.0.0.7');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { port: typeof addr === 'object' && addr !== null ? addr.port : 0, got, server };
}

describeEachDialect('webhook targets: no SSRF', (t) => {
  const clock = new ManualClock(Date.now());
  /** What the stand-in DNS answers; tests change it between registration and delivery (rebinding). */
  const dns = new Map<string, string[]>();

  test('registration refuses internal targets with 422 naming the rule, and stores nothing', async () => {
    dns.set('metadata.internal.test', ['169.254.169.254']);
    dns.set('split.test', ['93.184.216.34', '10.0.0.5']);
    const cases: [string, string][] = [
      ['http://127.0.0.1:6379/', 'loopback'],
      ['http://localhost.test/', 'loopback'],
      ['http://10.0.0.5/hook', 'private'],
      ['http://192.168.1.1/hook', 'private'],
      ['http://[fd00::1]/hook', 'private'],
      ['http://169.254.169.254/latest/meta-data/', 'link-local'],
      ['http://metadata.internal.test/', 'link-local'],
      ['http://[fe80::1]/hook', 'link-local'],
      ['http://224.0.0.1/hook', 'multicast'],
      ['http://0.0.0.0:8080/hook', 'unspecified'],
      ['http://[::ffff:127.0.0.1]/hook', 'loopback'],
      ['http://[::ffff:a9fe:a9fe]/hook', 'link-local'],
      ['http://2130706433/hook', 'loopback'],
      ['http://split.test/hook', 'private'],
    ];
    dns.set('localhost.test', ['::1']);
    for (const [url, rule] of cases) {
      const r = await call(t, 'POST', '/v1/webhooks', { url, events: ['key.disabled'] });
      assert.equal(r.status, 422, `${url}: ${r.raw}`);
      assert.equal(r.body.code, 'VALIDATION_FAILED');
      assert.match(String(r.body.detail), new RegExp(`rule: ${rule}\\)`), url);
    }
    const nx = await call(t, 'POST', '/v1/webhooks', { url: 'http://nx.test/', events: ['key.disabled'] });
    assert.deepEqual([nx.status, nx.body.detail], [422, 'url host "nx.test" does not resolve']);
    assert.deepEqual((await call(t, 'GET', '/v1/webhooks')).body.items, []);
  });

  test('each delivery re-checks the target (DNS rebinding) and records only a coarse outcome', async () => {
    const rx = await receiver(200);
    dns.set('rebind.test', ['93.184.216.34']);
    const c = await call(t, 'POST', '/v1/webhooks', {
      url: `http://rebind.test:${rx.port}/hook`,
      events: ['audit.anchor'],
    });
    assert.equal(c.status, 201, c.raw);
    const id = (c.body.record as { id: string }).id;
    dns.set('rebind.test', ['127.0.0.1']);
    assert.equal(await t.kw.services.webhooks.publishAuditAnchor(), 1);
    await t.kw.services.webhooks.deliverDue();
    const log = (await call(t, 'GET', `/v1/webhooks/${id}/deliveries`)).body.items as Record<
      string,
      unknown
    >[];
    assert.deepEqual([log[0]?.lastStatusCode, log[0]?.lastError], [null, 'refused_target']);
    assert.equal(rx.got.length, 0, 'nothing was sent inside');
    await new Promise((r) => rx.server.close(r));
  });
  return {
    clock,
    env: { KEYWARDEN_WEBHOOK_ALLOW_PRIVATE: 'false' },
    webhookResolve: (host) => {
      const a = dns.get(host);
      return a === undefined ? Promise.reject(new Error('ENOTFOUND')) : Promise.resolve(a);
    },
  };
});

describeEachDialect('webhook delivery connects where it checked, follows no redirect', (t) => {
  const dns = new Map<string, string[]>();

  const deliverOnce = async (url: string): Promise<Record<string, unknown>> => {
    const c = await call(t, 'POST', '/v1/webhooks', { url, events: ['audit.anchor'] });
    assert.equal(c.status, 201, c.raw);
    const id = (c.body.record as { id: string }).id;
    await t.kw.services.webhooks.emitOnce(`test:${id}`, 'audit.anchor', { seq: 1 });
    await t.kw.services.webhooks.deliverDue();
    await call(t, 'DELETE', `/v1/webhooks/${id}`);
    const log = (await call(t, 'GET', `/v1/webhooks/${id}/deliveries`)).body.items as Record<
      string,
      unknown
    >[];
    assert.equal(log.length, 1);
    return log[0] ?? {};
  };

  test('the resolved address is the one connected to; the name goes in the Host header', async () => {
    const rx = await receiver(204);
    // No system resolver knows this name: only the checked address can have been used.
    dns.set('hooks.internal.test', ['127.0.0.1']);
    const d = await deliverOnce(`http://hooks.internal.test:${rx.port}/in`);
    assert.deepEqual([d.status, d.lastStatusCode, d.lastError], ['succeeded', 204, null]);
    assert.equal(rx.got[0]?.host, `hooks.internal.test:${rx.port}`);
    await new Promise((r) => rx.server.close(r));
  });

  test('a redirect is not followed; an error answer is a status, never its text', async () => {
    const moved = await receiver(302);
    const d = await deliverOnce(`http://127.0.0.1:${moved.port}/hook`);
    assert.deepEqual([d.lastStatusCode, d.lastError], [302, 'redirect_not_followed']);
    const failing = await receiver(500);
    const e = await deliverOnce(`http://127.0.0.1:${failing.port}/hook`);
    assert.deepEqual([e.lastStatusCode, e.lastError], [500, 'http_error']);
    assert.ok(!JSON.stringify(e).includes('banner'));
    const closed = await freePort();
    const f = await deliverOnce(`http://127.0.0.1:${closed}/hook`);
    assert.deepEqual([f.lastStatusCode, f.lastError], [null, 'connection_refused']);
    await new Promise((r) => moved.server.close(r));
    await new Promise((r) => failing.server.close(r));
  });

  test('signing secrets are encrypted at rest', async () => {
    const c = await call(t, 'POST', '/v1/webhooks', {
      url: 'http://127.0.0.1:9/x',
      events: ['key.disabled'],
    });
    const secret = c.body.secret as string;
    const id = (c.body.record as { id: string }).id;
    const row = await t.kw.storage.db
      .selectFrom('webhooks')
      .select('secret')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    assert.match(row.secret, /^v1\./);
    assert.ok(!row.secret.includes(secret.slice(6)));
  });
  // Loopback receivers: private targets allowed, as in development.
  return {
    webhookResolve: (host) => Promise.resolve(dns.get(host) ?? []),
  };
});
