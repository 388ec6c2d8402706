import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { Hono, type Context } from 'hono';
import { createKey, startServer, type TestServer } from '../testing/harness.js';
import { KeywardenClient } from './client.js';
import type { KeyIdentity, VerifierLike } from './guard.js';
import { inProcessVerifier } from './in-process.js';
import { keywardenExpress, keywardenFastify, keywardenHono } from './middleware.js';

type Call = (
  path: string,
  headers: Record<string, string>,
) => Promise<{ status: number; headers: Headers; body: string }>;

describe('middleware for Express, Fastify and Hono', () => {
  let t: TestServer;
  let http: VerifierLike;
  let good: string;
  let limited: string;
  const closers: (() => Promise<void>)[] = [];
  before(async () => {
    t = await startServer({ name: 'sqlite' });
    await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.kw.app.server.address() as AddressInfo).port;
    http = new KeywardenClient({ url: `http://127.0.0.1:${port}`, adminKey: t.root });
    good = (
      await createKey(t, { name: 'crm-prod-mw', permissions: ['agents:invoke:agt_42'], customerId: 'cus_9' })
    ).key;
    limited = (
      await createKey(t, {
        name: 'crm-prod-mw-lim',
        permissions: ['agents:invoke'],
        ratelimits: [{ name: 'burst', limit: 1, windowSeconds: 60 }],
      })
    ).key;
  });
  after(async () => {
    for (const c of closers) await c();
    await t.close();
  });

  async function expressApp(verifier: VerifierLike, header?: string): Promise<Call> {
    const app = express();
    app.get(
      '/agents/:id',
      keywardenExpress({
        verifier,
        environment: 'production',
        permission: 'agents:invoke',
        resource: (r: express.Request) => r.params.id as string,
        ...(header ? { header } : {}),
      }),
      (req, res) => {
        res.json((req as unknown as { keywarden: KeyIdentity }).keywarden);
      },
    );
    const server = app.listen(0);
    await new Promise((r) => server.once('listening', r));
    closers.push(
      () =>
        new Promise((r) =>
          server.close(() => {
            r();
          }),
        ),
    );
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return async (path, headers) => {
      const res = await fetch(base + path, { headers });
      return { status: res.status, headers: res.headers, body: await res.text() };
    };
  }

  async function fastifyApp(verifier: VerifierLike, header?: string): Promise<Call> {
    const app = Fastify();
    app.decorateRequest('keywarden', null);
    app.get<{ Params: { id: string } }>(
      '/agents/:id',
      {
        preHandler: keywardenFastify({
          verifier,
          environment: 'production',
          permission: 'agents:invoke',
          resource: (r) => (r as unknown as { params: { id: string } }).params.id,
          ...(header ? { header } : {}),
        }),
      },
      (req) => (req as unknown as { keywarden: KeyIdentity }).keywarden,
    );
    await app.ready();
    closers.push(() => app.close());
    return async (path, headers) => {
      const res = await app.inject({ method: 'GET', url: path, headers });
      return {
        status: res.statusCode,
        headers: new Headers(res.headers as Record<string, string>),
        body: res.body,
      };
    };
  }

  function honoApp(verifier: VerifierLike, header?: string): Call {
    const app = new Hono<{ Variables: { keywarden: KeyIdentity } }>();
    app.use(
      '/agents/:id',
      keywardenHono<Context<{ Variables: { keywarden: KeyIdentity } }>>({
        verifier,
        environment: 'production',
        permission: 'agents:invoke',
        resource: (c) => c.req.param('id'),
        ...(header ? { header } : {}),
      }),
    );
    app.get('/agents/:id', (c) => c.json(c.get('keywarden')));
    return async (path, headers) => {
      const res = await app.request(path, { headers });
      return { status: res.status, headers: res.headers, body: await res.text() };
    };
  }

  const frameworks: [string, (v: VerifierLike, header?: string) => Promise<Call> | Call][] = [
    ['express', expressApp],
    ['fastify', fastifyApp],
    ['hono', honoApp],
  ];

  for (const [name, make] of frameworks) {
    for (const mode of ['http', 'in-process'] as const) {
      test(`${name} (${mode}): 200 with identity, 401, 403 and 429 with the right headers`, async () => {
        const verifier = mode === 'http' ? http : inProcessVerifier(t.kw.services);
        const call = await make(verifier);
        const ok = await call('/agents/agt_42', { authorization: `Bearer ${good}` });
        assert.equal(ok.status, 200, ok.body);
        const id = JSON.parse(ok.body) as KeyIdentity;
        assert.deepEqual([id.name, id.customerId], ['crm-prod-mw', 'cus_9']);

        const none = await call('/agents/agt_42', {});
        assert.equal(none.status, 401);
        assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="keywarden"');
        assert.match(none.headers.get('content-type') ?? '', /problem\+json/);

        const bad = await call('/agents/agt_42', { authorization: 'Bearer kw_prod_nope' });
        assert.equal(bad.status, 401);
        assert.match(bad.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
        assert.equal((JSON.parse(bad.body) as { code: string }).code, 'MALFORMED');

        const other = await call('/agents/agt_43', { authorization: `Bearer ${good}` });
        assert.equal(other.status, 403);
        assert.match(other.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
        assert.equal((JSON.parse(other.body) as { code: string }).code, 'INSUFFICIENT_PERMISSIONS');

        const first = await call('/agents/agt_1', { authorization: `Bearer ${limited}` });
        if (first.status === 200) {
          assert.equal(first.headers.get('ratelimit-policy'), '"burst";q=1');
          assert.match(first.headers.get('ratelimit') ?? '', /^"burst";r=0;t=\d+$/);
        }
        const over = await call('/agents/agt_1', { authorization: `Bearer ${limited}` });
        assert.equal(over.status, 429);
        assert.ok(Number(over.headers.get('retry-after')) >= 1);
        assert.match(over.headers.get('ratelimit') ?? '', /^"burst";r=0;t=\d+$/);
      });
    }
    test(`${name}: the key may come from a configured header such as X-Api-Key`, async () => {
      const call = await make(http, 'X-Api-Key');
      assert.equal((await call('/agents/agt_42', { 'x-api-key': good })).status, 200);
      assert.equal((await call('/agents/agt_42', { authorization: `Bearer ${good}` })).status, 401);
    });
  }
});
