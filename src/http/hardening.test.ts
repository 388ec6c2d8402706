import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateKey } from '../core/keys.js';
import { assertResponsiveDuring, bodyOf, listen, rawSocket, wire } from '../testing/edge.js';
import { DIALECTS, aKey, call, startServer, type Reply, type TestServer } from '../testing/harness.js';

// Attack tests: each one would stall, crash or leak on an unhardened server. Latency bounds are
// the (100 ms) and hold on a loaded CI machine; speed targets proper live in bench/.
const sqlite = DIALECTS[0] ?? { name: 'sqlite' as const };

function assertProblem(
  r: { status: number; headers: Record<string, unknown> },
  body: Record<string, unknown>,
): void {
  assert.match(String(r.headers['content-type']), /^application\/problem\+json/, JSON.stringify(body));
  assert.equal(typeof body.code, 'string');
  assert.equal(typeof body.detail, 'string');
  assert.ok(String(body.detail).length > 0);
  assert.equal(body.status, r.status);
}

describe('hardening: hostile input over the wire', () => {
  let t: TestServer;
  let port: number;
  before(async () => {
    t = await startServer(sqlite, {
      env: {
        KEYWARDEN_REQUEST_TIMEOUT_MS: '600',
        KEYWARDEN_HEADERS_TIMEOUT_MS: '400',
        KEYWARDEN_MAX_CONNECTIONS_PER_IP: '8',
        KEYWARDEN_METRICS_TOKEN: 'metrics-token-0123456789',
      },
    });
    port = await listen(t);
  });
  after(async () => t.close());

  test('framework errors are problem+json: bad percent-encoding, long parameter, media type, size, 404', async () => {
    const auth = { authorization: `Bearer ${t.root}` };
    const cases: [string, string, Record<string, string>, string | undefined, number][] = [
      ['POST', '/v1/keys/%00%ff/disable', auth, undefined, 400],
      ['GET', `/v1/keys/${'a'.repeat(300)}`, auth, undefined, 414],
      ['POST', '/v1/keys', { ...auth, 'content-type': 'text/plain' }, 'x', 415],
      [
        'POST',
        '/v1/keys',
        { ...auth, 'content-type': 'application/json' },
        `"${'x'.repeat(1_100_000)}"`,
        413,
      ],
      ['GET', '/nope?access_token=zzz', {}, undefined, 404],
      ['DELETE', '/healthz', {}, undefined, 404],
    ];
    for (const [method, path, headers, body, status] of cases) {
      const r = await wire(port, method, path, { headers, ...(body !== undefined ? { body } : {}) });
      assert.equal(r.status, status, `${method} ${path.slice(0, 40)}: ${r.body.slice(0, 200)}`);
      const b = JSON.parse(r.body) as Record<string, unknown>;
      assertProblem(r, b);
      assert.ok(!String(b.detail).includes('zzz'), 'no query string in a detail');
    }
  });

  test('deeply nested JSON is a 400 before any recursive walk, without authentication', async () => {
    const deep = `{"adminKey":"\\u0078","z":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    const r = await wire(port, 'POST', '/console/api/session', {
      headers: { 'content-type': 'application/json' },
      body: deep,
    });
    assert.equal(r.status, 400, r.body.slice(0, 300));
    const b = JSON.parse(r.body) as Record<string, unknown>;
    assertProblem(r, b);
    assert.equal(b.code, 'INVALID_JSON');
    assert.match(String(b.detail), /more than 32 levels deep/);
    // 31 levels are fine (the answer is about the field, not the depth).
    const ok = await call(
      t,
      'POST',
      '/v1/keys',
      aKey({ metadata: { a: JSON.parse(`${'['.repeat(28)}${']'.repeat(28)}`) as unknown } }),
    );
    assert.notEqual(ok.status, 500);
    assert.doesNotMatch(JSON.stringify(ok.body.detail ?? ''), /levels deep/);
    assert.doesNotMatch(t.logs(), /Maximum call stack/);
  });

  test('a slow client is cut off by the request timeout with a 408 problem', async () => {
    const c = await rawSocket(port);
    c.socket.write(
      `POST /console/api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{`,
    );
    const dribble = setInterval(() => c.socket.write(' '), 100);
    const t0 = Date.now();
    await c.closed;
    clearInterval(dribble);
    assert.ok(Date.now() - t0 < 5000, `closed after ${Date.now() - t0} ms`);
    assert.match(c.received(), /^HTTP\/1\.1 408/);
    const b = bodyOf(c.received());
    assert.equal(b.code, 'REQUEST_TIMEOUT');
    assert.equal(typeof b.detail, 'string');
  });

  test('a client that never finishes its headers is cut off', async () => {
    const c = await rawSocket(port);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const dribble = setInterval(() => c.socket.write('X-A: b\r\n'), 100);
    const t0 = Date.now();
    await c.closed;
    clearInterval(dribble);
    assert.ok(Date.now() - t0 < 5000, `closed after ${Date.now() - t0} ms`);
  });

  test('connections per client address are capped; other addresses are still served fast', async () => {
    const held = await Promise.all(Array.from({ length: 8 }, () => rawSocket(port)));
    try {
      const extra = await rawSocket(port);
      await extra.closed;
      assert.match(extra.received(), /^HTTP\/1\.1 429/);
      assert.equal(bodyOf(extra.received()).code, 'RATE_LIMITED');
      const other = await wire(port, 'GET', '/healthz', { from: '127.0.0.2' });
      assert.equal(other.status, 200);
    } finally {
      for (const h of held) h.socket.destroy();
    }
    await Promise.all(held.map((h) => h.closed));
    // The server sees the closes a moment later; then the address may connect again.
    let again = 0;
    for (let i = 0; i < 50 && again !== 200; i++) {
      again = (await wire(port, 'GET', '/healthz')).status;
      if (again !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(again, 200);
  });

  test('/v1 answers are no-store and nosniff, errors included', async () => {
    for (const auth of [`Bearer ${t.root}`, 'Bearer nope']) {
      const r = await wire(port, 'GET', '/v1/keys', { headers: { authorization: auth } });
      assert.equal(r.headers['cache-control'], 'no-store');
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
    }
  });

  test('/metrics needs the metrics token when one is configured', async () => {
    const none = await wire(port, 'GET', '/metrics');
    assert.equal(none.status, 401);
    assertProblem(none, JSON.parse(none.body) as Record<string, unknown>);
    const wrong = await wire(port, 'GET', '/metrics', {
      headers: { authorization: 'Bearer metrics-token-012345678X' },
    });
    assert.equal(wrong.status, 401);
    const ok = await wire(port, 'GET', '/metrics', {
      headers: { authorization: 'Bearer metrics-token-0123456789' },
    });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /keywarden_auth_throttled_total/);
  });

  test('a ReDoS naming pattern cannot stall the loop; non-RE2 and long patterns are 422', async () => {
    for (const pattern of ['(a)\\1', '^(?=a).*$', `^${'a'.repeat(256)}$`]) {
      const r = await call(t, 'PUT', '/v1/policy', { naming: { pattern } });
      assert.equal(r.status, 422, `${pattern.slice(0, 20)}: ${r.raw}`);
      assert.equal(r.body.code, 'VALIDATION_FAILED');
      assert.match(String(r.body.detail), /naming\.pattern/);
    }
    const put = await call(t, 'PUT', '/v1/policy', { naming: { pattern: '^(a+)+$' } });
    assert.equal(put.status, 200, put.raw);
    await assertResponsiveDuring(port, async () => {
      for (let i = 0; i < 5; i++) {
        const r = await call(t, 'POST', '/v1/keys', aKey({ name: `${'a'.repeat(28 + i)}!` }));
        assert.equal(r.status, 422, r.raw);
        assert.match(String(r.body.detail), /naming\.pattern/);
      }
    });
    await call(t, 'PUT', '/v1/policy', {});
  });

  test('a key given where an address belongs is never echoed, nor a query string logged', async () => {
    const r = await call(t, 'POST', '/v1/verify', {
      key: 'x'.repeat(40),
      environment: 'production',
      ip: t.root,
    });
    assert.equal(r.status, 400, r.raw);
    assert.ok(!r.raw.includes(t.root), r.raw);
    const c = await call(t, 'POST', '/v1/keys', aKey({ ipAllowlist: [t.root] }));
    assert.ok(c.status >= 400 && c.status < 500);
    assert.ok(!c.raw.includes(t.root), c.raw);
    await wire(port, 'GET', `/v1/keys?access_token=${t.root}`, { headers: { authorization: 'Bearer bad' } });
    await wire(port, 'GET', `/console/api/nope?token=${t.root}`);
    assert.ok(!t.logs().includes(t.root), 'the root key reached the log');
    assert.ok(!t.logs().includes('access_token'), 'a query string reached the log');
  });

  test('/v1/leaks work is bounded: too many keys is 422 and the loop stays responsive', async () => {
    let text = '';
    for (let i = 0; i < 201; i++) text += `${generateKey('kw', 'prod')}\n`;
    const many = await call(t, 'POST', '/v1/leaks', { text });
    assert.equal(many.status, 422, many.raw.slice(0, 300));
    assert.match(String(many.body.detail), /more than 200 distinct keys/);
    let lookalikes = '';
    while (lookalikes.length < 900_000) lookalikes += `kw_prod_${'A'.repeat(40)} `;
    const shaped = await call(t, 'POST', '/v1/leaks', { text: lookalikes });
    assert.equal(shaped.status, 422, shaped.raw.slice(0, 300));
    const allowed = text.split('\n').slice(0, 200).join('\n');
    await assertResponsiveDuring(port, async () => {
      const r = await wire(port, 'POST', '/v1/leaks', {
        headers: { authorization: `Bearer ${t.root}`, 'content-type': 'application/json' },
        body: JSON.stringify({ text: allowed }),
      });
      assert.equal(r.status, 200, r.body.slice(0, 300));
    });
  });
});

describe('hardening: failed-authentication throttling', () => {
  let t: TestServer;
  before(async () => {
    t = await startServer(sqlite, { env: { KEYWARDEN_AUTH_FAILURES_PER_MINUTE: '5' } });
  });
  after(async () => t.close());

  const inject = async (
    method: 'GET' | 'POST',
    url: string,
    ip: string,
    headers: Record<string, string>,
    payload?: unknown,
  ): Promise<Reply> => {
    const res = await t.kw.app.inject({
      method,
      url,
      remoteAddress: ip,
      headers: { ...headers, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(payload !== undefined ? { payload: JSON.stringify(payload) } : {}),
    });
    return {
      status: res.statusCode,
      headers: res.headers,
      raw: res.body,
      body: JSON.parse(res.body) as Record<string, unknown>,
    };
  };

  test('bearer failures past the threshold answer 429 with Retry-After, even for a right key', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await inject('GET', '/v1/keys', '203.0.113.7', { authorization: `Bearer wrong-${i}` });
      assert.equal(r.status, 401);
    }
    const r = await inject('GET', '/v1/keys', '203.0.113.7', { authorization: `Bearer ${t.root}` });
    assert.equal(r.status, 429, r.raw);
    assert.equal(r.body.code, 'RATE_LIMITED');
    assert.match(String(r.headers['retry-after']), /^\d+$/);
    assert.ok(Number(r.headers['retry-after']) >= 1 && Number(r.headers['retry-after']) <= 60);
    // Another address is not affected.
    const other = await inject('GET', '/v1/keys', '203.0.113.8', { authorization: `Bearer ${t.root}` });
    assert.equal(other.status, 200);
    assert.match(t.logs(), /failed authentications over the limit/);
    assert.match(await t.kw.services.ctx.metrics.registry.metrics(), /keywarden_auth_throttled_total 1\b/);
  });

  test('console sign-in is throttled by address and by the presented key prefix', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await inject('POST', '/console/api/session', '198.51.100.1', {}, { adminKey: `nope-${i}` });
      assert.equal(r.status, 401, r.raw);
    }
    const r = await inject('POST', '/console/api/session', '198.51.100.1', {}, { adminKey: 'nope' });
    assert.equal(r.status, 429, r.raw);
    assert.ok(r.headers['retry-after'] !== undefined);
    // One key prefix sprayed from many addresses.
    const guess = (i: number): string => `kw_adm_abcd${String(i).padStart(40, '0')}`;
    for (let i = 0; i < 5; i++) {
      const g = await inject('POST', '/console/api/session', `192.0.2.${i + 1}`, {}, { adminKey: guess(i) });
      assert.equal(g.status, 401, g.raw);
    }
    const g = await inject('POST', '/console/api/session', '192.0.2.99', {}, { adminKey: guess(99) });
    assert.equal(g.status, 429, g.raw);
  });
});
