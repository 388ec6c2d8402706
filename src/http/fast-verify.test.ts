import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { generateKey } from '../core/keys.js';
import type { VerifyResult } from '../core/verify.js';
import {
  call,
  createKey,
  describeEachDialect,
  startServer,
  DIALECTS,
  type TestServer,
} from '../testing/harness.js';
import { listen, wire, type WireReply } from '../testing/edge.js';

// POST /v1/verify is answered on the raw request when it can (fast-verify.ts) and by the Fastify
// route otherwise. The same request sent to `/v1/verify?route` (a query string: never the fast
// path) must get the same answer, byte for byte but for the request id of a problem.

const post = (
  t: { port: number; root: string },
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<WireReply> =>
  wire(t.port, 'POST', path, {
    body,
    headers: {
      authorization: `Bearer ${t.root}`,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      ...headers,
    },
  });

/** What must agree between the two paths: status, the headers a client reads, the body (no request id). */
function comparable(r: WireReply): Record<string, unknown> {
  let body: unknown = r.body;
  try {
    const parsed = JSON.parse(r.body) as Record<string, unknown>;
    delete parsed.requestId;
    if (typeof parsed.detail === 'string') parsed.detail = parsed.detail.replace(/req_[0-9a-z]+/g, 'req_…');
    body = parsed;
  } catch {
    /* not JSON: compared as text */
  }
  return {
    status: r.status,
    type: r.headers['content-type'],
    cache: r.headers['cache-control'],
    nosniff: r.headers['x-content-type-options'],
    length: r.status === 200 ? r.headers['content-length'] : 'n/a',
    body,
  };
}

/** The number in a problem's request id (`req_<boot><n in base 36>`): Fastify's request counter. */
async function fastifyRequests(t: { port: number; root: string }): Promise<number> {
  const r = await post(t, '/v1/verify?count', '{');
  const id = (JSON.parse(r.body) as { requestId: string }).requestId;
  return parseInt(id.slice('req_'.length + 8), 36);
}

describeEachDialect('POST /v1/verify: the fast path answers as the route does', (t) => {
  const s = { port: 0, root: '' };
  let key = '';
  let keyId = '';
  /** A valid call of the suite's key (set once the key exists). */
  let logsRead = '';
  /** The 200s of /v1/verify the server has counted. */
  const counted200 = async (): Promise<number> =>
    Number(
      /keywarden_http_requests_total\{route="\/v1\/verify",status="200"\} (\d+)/.exec(
        (await call(t, 'GET', '/metrics')).raw,
      )?.[1] ?? 0,
    );
  before(async () => {
    s.port = await listen(t);
    s.root = t.root;
    const k = await createKey(t, {
      permissions: ['agents:invoke:agt_42', 'logs:read'],
      ipAllowlist: ['203.0.113.0/24'],
      customerId: 'cus_7',
      metadata: { tier: 'gold', 'quote"d': 'line\nbreak ✓' },
    });
    key = k.key;
    keyId = k.id;
    logsRead = JSON.stringify({ key, environment: 'production', permission: 'logs:read', ip: '203.0.113.9' });
  });

  test('every outcome, and every refusal the fast path hands over, is the route answer', async () => {
    const ok = {
      key,
      environment: 'production',
      permission: 'agents:invoke',
      resource: 'agt_42',
      ip: '203.0.113.7',
    };
    const bodies: string[] = [
      JSON.stringify(ok),
      JSON.stringify({ ...ok, userAgent: 'crm-bot/1.0', cost: 1 }),
      JSON.stringify({ ...ok, permissions: ['logs:read'], permission: undefined }),
      JSON.stringify({ ...ok, permissions: ['logs:write'] }),
      JSON.stringify({ ...ok, ip: '198.51.100.1' }),
      JSON.stringify({ ...ok, environment: 'staging' }),
      JSON.stringify({ ...ok, key: generateKey('kw', 'prod') }),
      JSON.stringify({ ...ok, key: 'hello' }),
      JSON.stringify({ ...ok, key: `Bearer ${key}` }),
      // Handed over to the route: each fails to parse, validate or check.
      '{"key":',
      '[]',
      'null',
      JSON.stringify({ ...ok, extra: 1 }),
      JSON.stringify({ ...ok, environment: 'prod' }),
      JSON.stringify({ ...ok, permission: 'agents:*' }),
      JSON.stringify({ ...ok, resource: 'a b' }),
      JSON.stringify({ ...ok, ip: 'not-an-ip' }),
      JSON.stringify({ ...ok, key: 'x\u0000y' }),
      '{"key":"\\ud800","environment":"production"}',
      `${'['.repeat(40)}${']'.repeat(40)}`,
      Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1'),
    ];
    for (const body of bodies) {
      const fast = await post(s, '/v1/verify', body);
      const route = await post(s, '/v1/verify?route', body);
      assert.deepEqual(comparable(fast), comparable(route), `body ${body.slice(0, 80)}`);
    }
    // The successful answers carry the key's fields (the serializer's schema is the route's).
    const valid = JSON.parse((await post(s, '/v1/verify', JSON.stringify(ok))).body) as Record<
      string,
      unknown
    >;
    assert.deepEqual(
      [valid.valid, valid.code, valid.keyId, valid.customerId],
      [true, 'VALID', keyId, 'cus_7'],
    );
    assert.deepEqual(valid.metadata, { tier: 'gold', 'quote"d': 'line\nbreak ✓' });
  });

  test('the fast path is taken: Fastify sees none of its requests, and they are counted', async () => {
    const body = logsRead;
    const countedBefore = await counted200();
    const before = await fastifyRequests(s);
    for (let i = 0; i < 5; i++) assert.equal((await post(s, '/v1/verify', body)).status, 200);
    assert.equal(await fastifyRequests(s), before + 1, 'only the counting request reached Fastify');
    // Whatever the client sends that the fast path does not take goes to Fastify (and is answered the same).
    for (const headers of [
      { 'content-type': 'application/json; charset=UTF-8' },
      { 'content-type': 'application/json;charset=utf-8' },
    ]) {
      const r = await post(s, '/v1/verify', body, headers);
      assert.equal(r.status, 200);
      assert.match(r.body, /"code":"VALID"/);
    }
    assert.equal(await fastifyRequests(s), before + 4, 'the two other media types went through Fastify');
    assert.equal((await counted200()) - countedBefore, 7, 'every 200 is counted once');
  });

  test('admin keys that may not verify, or only in their team, get the route answers', async () => {
    async function admin(body: Record<string, unknown>): Promise<string> {
      const r = await call(t, 'POST', '/v1/admin-keys', body);
      assert.equal(r.status, 201, r.raw);
      return r.body.key as string;
    }
    const reader = await admin({ name: 'reader', permissions: ['keys:read'] });
    const ops = await admin({ name: 'ops-verifier', permissions: ['keys:verify'], team: 'ops' });
    const opsKey = await createKey(t, {
      name: 'ops-prod-agent-call',
      system: 'ops',
      owner: { team: 'ops', contact: 'ops@example.com' },
    });
    const asCrm = JSON.stringify({ key, environment: 'production' });
    const asOps = JSON.stringify({ key: opsKey.key, environment: 'production' });
    for (const [root, body, status, code] of [
      [reader, asCrm, 403, undefined],
      [ops, asCrm, 200, 'NOT_FOUND'],
      [ops, asOps, 200, 'VALID'],
    ] as const) {
      // Twice: the first request caches the admin key, so the second meets the fast path's own checks.
      for (let i = 0; i < 2; i++) {
        const fast = await post({ ...s, root }, '/v1/verify', body);
        const route = await post({ ...s, root }, '/v1/verify?route', body);
        assert.deepEqual(comparable(fast), comparable(route));
        assert.equal(fast.status, status, fast.body);
        if (code !== undefined) assert.equal((JSON.parse(fast.body) as { code: string }).code, code);
      }
    }
  });

  test('a body over the limit is the route 413, even when it is a valid request', async () => {
    const body = JSON.stringify({ key, environment: 'production' }) + ' '.repeat(1024 * 1024);
    const fast = await post(s, '/v1/verify', body);
    assert.equal(fast.status, 413, fast.body);
    assert.deepEqual(comparable(fast), comparable(await post(s, '/v1/verify?route', body)));
  });

  test('a result that does not fit the response schema is the route 500, and the server lives on', async () => {
    const verifier = t.kw.services.verifier;
    const real = verifier.verify.bind(verifier);
    const body = JSON.stringify({ key, environment: 'production', ip: '203.0.113.7' });
    try {
      for (const wrap of [(v: VerifyResult) => v, (v: VerifyResult) => Promise.resolve(v)]) {
        // `code` missing: the serializer refuses it.
        verifier.verify = () => wrap({ valid: true } as unknown as VerifyResult);
        const fast = await post(s, '/v1/verify', body);
        const route = await post(s, '/v1/verify?route', body);
        assert.equal(fast.status, 500, fast.body);
        assert.deepEqual(comparable(fast), comparable(route));
      }
    } finally {
      verifier.verify = real;
    }
    assert.match((await post(s, '/v1/verify', body)).body, /"code":"VALID"/);
  });

  test('a client that leaves while its verification runs gets nothing written and is not counted', async () => {
    const verifier = t.kw.services.verifier;
    const real = verifier.verify.bind(verifier);
    const body = JSON.stringify({ key, environment: 'production', ip: '203.0.113.7' });
    // Warm the admin key so the request is the fast path's.
    assert.equal((await post(s, '/v1/verify', body)).status, 200);
    const before = await counted200();
    let release: () => void = () => undefined;
    let started = false;
    verifier.verify = (...args) => {
      started = true;
      return new Promise((resolve) => {
        release = () => {
          resolve(real(...args));
        };
      });
    };
    try {
      const sock = connect(s.port, '127.0.0.1');
      sock.on('error', () => undefined);
      sock.write(
        `POST /v1/verify HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${s.root}\r\n` +
          `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      for (let i = 0; i < 200 && !started; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(started, 'the verification began');
      sock.destroy();
      await new Promise((r) => setTimeout(r, 50));
      release();
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      verifier.verify = real;
    }
    assert.equal(await counted200(), before, 'a 200 nobody received is not counted');
  });

  test('a body in several packets, a client that leaves mid-body, keep-alive', async () => {
    const body = logsRead;
    const head =
      `POST /v1/verify HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\nauthorization: Bearer ${s.root}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`;
    // Left mid-body: nothing to answer, nothing kept.
    const gone = connect(s.port, '127.0.0.1');
    gone.write(head + body.slice(0, 10));
    await new Promise((r) => setTimeout(r, 50));
    gone.destroy();
    // Split across packets, then a second request on the same connection.
    const sock = connect(s.port, '127.0.0.1');
    let got = '';
    sock.on('data', (c: Buffer) => (got += c.toString()));
    sock.write(head);
    for (const part of [body.slice(0, 7), body.slice(7, 30), body.slice(30)]) {
      await new Promise((r) => setTimeout(r, 20));
      sock.write(part);
    }
    sock.write(head + body);
    for (let i = 0; i < 200 && (got.match(/"code":"VALID"/g) ?? []).length < 2; i++)
      await new Promise((r) => setTimeout(r, 10));
    sock.destroy();
    assert.equal((got.match(/HTTP\/1\.1 200/g) ?? []).length, 2, got);
    assert.equal((got.match(/"code":"VALID"/g) ?? []).length, 2, got);
  });
});

for (const dialect of DIALECTS) {
  describe(`POST /v1/verify fast path: clients behind a proxy, throttling, storage down (${dialect.name})`, () => {
    let t: TestServer;
    const s = { port: 0, root: '' };
    before(async () => {
      t = await startServer(dialect, {
        env: { KEYWARDEN_TRUST_PROXY: '1', KEYWARDEN_AUTH_FAILURES_PER_MINUTE: '2' },
      });
      s.port = await listen(t);
      s.root = t.root;
    });
    after(async () => t.close());

    test('the client address is X-Forwarded-For behind a trusted proxy, as for the route', async () => {
      const k = await createKey(t, { permissions: ['logs:read'] });
      const body = JSON.stringify({ key: k.key, environment: 'production', permission: 'logs:read' });
      // Two failed authentications from 198.51.100.7 (through the proxy) throttle that address.
      for (let i = 0; i < 2; i++) {
        const r = await post({ ...s, root: 'kwadmin_wrong' }, '/v1/verify', body, {
          'x-forwarded-for': '198.51.100.7',
        });
        assert.equal(r.status, 401);
      }
      const throttled = await post(s, '/v1/verify', body, { 'x-forwarded-for': '198.51.100.7' });
      assert.equal(throttled.status, 429, throttled.body);
      assert.ok(throttled.headers['retry-after'] !== undefined);
      const other = await post(s, '/v1/verify', body, { 'x-forwarded-for': '198.51.100.8' });
      assert.equal(other.status, 200, other.body);
      assert.match(other.body, /"code":"VALID"/);
    });

    test('a verification that fails on storage is the route problem (503), not a hang', async () => {
      const body = JSON.stringify({ key: generateKey('kw', 'prod'), environment: 'production' });
      // One verification caches the admin key; then storage goes away.
      assert.equal((await post(s, '/v1/verify', body, { 'x-forwarded-for': '198.51.100.9' })).status, 200);
      await t.kw.storage.close();
      const unknown = JSON.stringify({ key: generateKey('kw', 'prod'), environment: 'production' });
      const fast = await post(s, '/v1/verify', unknown, { 'x-forwarded-for': '198.51.100.9' });
      const route = await post(s, '/v1/verify?route', unknown, { 'x-forwarded-for': '198.51.100.9' });
      assert.equal(fast.status, 503, fast.body);
      assert.deepEqual(comparable(fast), comparable(route));
    });
  });
}

describe('POST /v1/verify fast path: a request taken before shutdown', () => {
  test('is answered as it would have been (a 400 for a bad body), not with the closing 503', async () => {
    const t = await startServer(DIALECTS[0] ?? { name: 'sqlite' });
    let closed = false;
    try {
      const port = await listen(t);
      const good = JSON.stringify({ key: generateKey('kw', 'prod'), environment: 'production' });
      // Caches the admin key: the next request is the fast path's.
      assert.equal((await post({ port, root: t.root }, '/v1/verify', good)).status, 200);
      const bad = '{"key":"kw_prod_x","environment":"prod"}';
      const sock = connect(port, '127.0.0.1');
      let got = '';
      sock.on('data', (c: Buffer) => (got += c.toString()));
      const ended = new Promise((r) => sock.once('close', r));
      sock.write(
        `POST /v1/verify HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${t.root}\r\n` +
          `content-type: application/json\r\ncontent-length: ${bad.length}\r\n\r\n${bad.slice(0, 10)}`,
      );
      await new Promise((r) => setTimeout(r, 100));
      const closing = t.kw.close();
      await new Promise((r) => setTimeout(r, 100));
      sock.write(bad.slice(10));
      await Promise.race([ended, new Promise((r) => setTimeout(r, 5000))]);
      await closing;
      closed = true;
      assert.match(got, /^HTTP\/1\.1 400/, got);
      assert.match(got, /"code":"VALIDATION_FAILED"/);
    } finally {
      if (!closed) await t.kw.close();
      await t.close();
    }
  });
});
