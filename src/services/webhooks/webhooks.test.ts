import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { ManualClock, call, createKey, verify, describeEachDialect } from '../../testing/harness.js';
import { signPayload } from './index.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A real local HTTP receiver; answers with the next status in `script` (then 200). */
async function receiver(
  script: number[] = [],
): Promise<{ url: string; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.statusCode = script.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    close: () =>
      new Promise((r) =>
        server.close(() => {
          r();
        }),
      ),
  };
}

describeEachDialect('webhooks', (t) => {
  const clock = new ManualClock(Date.now());
  const hooks = () => t.kw.services.webhooks;

  test('signed deliveries of key.disabled and key.leaked, verifiable with the secret', async () => {
    const rx = await receiver();
    const c = await call(t, 'POST', '/v1/webhooks', {
      url: rx.url,
      events: ['key.disabled', 'key.leaked'],
    });
    assert.equal(c.status, 201, c.raw);
    const secret = c.body.secret as string;
    assert.match(secret, /^whsec_/);
    const k = await createKey(t, { name: 'crm-prod-hooked' });
    await call(t, 'POST', `/v1/keys/${k.id}/disable`, { reason: 'rotation drill' });
    await call(t, 'POST', `/v1/keys/${k.id}/enable`);
    await call(t, 'POST', '/v1/leaks', { text: k.key });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await hooks().deliverDue(), 3);
    assert.deepEqual(
      rx.got.map((g) => (JSON.parse(g.body) as { type: string }).type),
      ['key.disabled', 'key.leaked', 'key.disabled'],
    );
    for (const g of rx.got) {
      const sig = String(g.headers['keywarden-signature']);
      const ts = Number(/t=(\d+)/.exec(sig)?.[1]);
      assert.equal(sig, signPayload(secret, g.body, ts), 'HMAC-SHA-256 over "t.body" with the secret');
      assert.ok(!g.body.includes(k.key.slice(12, -4)), 'no secret in the payload');
    }
    const first = JSON.parse(rx.got[0]?.body ?? '{}') as { data: { keyId: string; reason: string } };
    assert.deepEqual([first.data.keyId, first.data.reason], [k.id, 'rotation drill']);
    await rx.close();
  });

  test('a failing receiver is retried with backoff; the delivery log shows it', async () => {
    const rx = await receiver([500, 503]);
    const c = await call(t, 'POST', '/v1/webhooks', { url: rx.url, events: ['key.disabled'] });
    const id = (c.body.record as { id: string }).id;
    const k = await createKey(t, { name: 'crm-prod-retry' });
    await call(t, 'POST', `/v1/keys/${k.id}/disable`);
    await new Promise((r) => setTimeout(r, 50));
    await hooks().deliverDue();
    let log = (await call(t, 'GET', `/v1/webhooks/${id}/deliveries`)).body.items as {
      status: string;
      attempts: number;
      lastStatusCode: number;
    }[];
    assert.deepEqual([log[0]?.status, log[0]?.attempts, log[0]?.lastStatusCode], ['pending', 1, 500]);
    await hooks().deliverDue();
    assert.equal(rx.got.length, 1, 'not retried before its backoff');
    clock.advance(1);
    await hooks().deliverDue();
    clock.advance(2);
    await hooks().deliverDue();
    log = (await call(t, 'GET', `/v1/webhooks/${id}/deliveries`)).body.items as typeof log;
    assert.deepEqual([log[0]?.status, log[0]?.attempts, log[0]?.lastStatusCode], ['succeeded', 3, 200]);
    assert.equal(rx.got.length, 3);
    assert.equal((await call(t, 'DELETE', `/v1/webhooks/${id}`)).status, 204);
    await rx.close();
  });

  test('key.rate_limited at most once per window; key.expiring and key.credits_low once', async () => {
    const rx = await receiver();
    await call(t, 'POST', '/v1/webhooks', {
      url: rx.url,
      events: ['key.rate_limited', 'key.expiring', 'key.credits_low'],
    });
    const k = await createKey(t, {
      name: 'crm-prod-busy-hook',
      ratelimits: [{ name: 'm', limit: 1, windowSeconds: 60 }],
    });
    for (let i = 0; i < 5; i++) await verify(t, { key: k.key });
    const soon = await createKey(t, {
      name: 'crm-prod-expiring',
      expiresAt: new Date(clock.now() + 5 * 86_400_000).toISOString(),
    });
    const low = await createKey(t, { name: 'crm-prod-low', credits: { remaining: 12 } });
    for (let i = 0; i < 3; i++) await verify(t, { key: low.key });
    await t.kw.services.ctx.usage.flush();
    await t.kw.jobs.runAll();
    await t.kw.jobs.runAll();
    await new Promise((r) => setTimeout(r, 50));
    await hooks().deliverDue();
    const types = rx.got.map((g) => JSON.parse(g.body) as { type: string; data: { keyId: string } });
    assert.equal(types.filter((x) => x.type === 'key.rate_limited' && x.data.keyId === k.id).length, 1);
    assert.equal(types.filter((x) => x.type === 'key.expiring' && x.data.keyId === soon.id).length, 1);
    assert.equal(types.filter((x) => x.type === 'key.credits_low' && x.data.keyId === low.id).length, 1);
    await rx.close();
  });

  test('bad input', async () => {
    assert.equal(
      (await call(t, 'POST', '/v1/webhooks', { url: 'ftp://x', events: ['key.disabled'] })).status,
      400,
    );
    assert.equal(
      (await call(t, 'POST', '/v1/webhooks', { url: 'http://x', events: ['key.exploded'] })).status,
      400,
    );
    assert.equal(
      (await call(t, 'POST', '/v1/webhooks', { url: 'not a url', events: ['key.disabled'] })).status,
      400,
    );
    assert.equal((await call(t, 'DELETE', '/v1/webhooks/whk_nope')).status, 404);
  });
  return { clock, env: { KEYWARDEN_WEBHOOK_RETRY_BASE_MS: '1000' } };
});
