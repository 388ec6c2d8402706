import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify, { type FastifyRequest } from 'fastify';
import { Hono } from 'hono';
import { call as api, createKey, startServer, type TestServer } from '../testing/harness.js';
import { KeywardenClient } from './client.js';
import { sdkUnavailableCounter, type KeyIdentity, type VerifierLike } from './guard.js';
import { inProcessVerifier } from './in-process.js';
import { keywardenExpress } from './express.js';
import { keywardenFastify } from './fastify.js';
import { keywardenHono } from './hono.js';
import * as root from './index.js';

/** Every file reachable from `entry` through relative imports, and the bare modules they import. */
function importGraph(entry: string): { files: string[]; bare: Set<string> } {
  const files: string[] = [];
  const bare = new Set<string>();
  const walk = (file: string): void => {
    if (files.includes(file)) return;
    files.push(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(
      /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'|\bimport\(\s*'([^']+)'/g,
    )) {
      const spec = m[1] ?? m[2] ?? '';
      if (!spec.startsWith('.')) bare.add(spec);
      else if (spec.endsWith('.js')) {
        const target = join(dirname(file), file.endsWith('.d.ts') ? spec.replace(/\.js$/, '.d.ts') : spec);
        if (existsSync(target)) walk(target);
      }
    }
  };
  walk(entry);
  return { files, bare };
}

interface Extra {
  onUnavailable?: 'deny' | 'allow';
  log?: (message: string) => void;
}

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

  async function expressApp(verifier: VerifierLike, header?: string, extra: Extra = {}): Promise<Call> {
    const app = express();
    app.get(
      '/agents/:id',
      keywardenExpress({
        verifier,
        environment: 'production',
        permission: 'agents:invoke',
        resource: (r) => r.params.id,
        ...(header ? { header } : {}),
        ...extra,
      }),
      (req, res) => {
        res.json(req.keywarden);
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

  async function fastifyApp(verifier: VerifierLike, header?: string, extra: Extra = {}): Promise<Call> {
    const app = Fastify();
    app.decorateRequest('keywarden', null);
    app.get<{ Params: { id: string } }>(
      '/agents/:id',
      {
        preHandler: keywardenFastify({
          verifier,
          environment: 'production',
          permission: 'agents:invoke',
          resource: (r: FastifyRequest<{ Params: { id: string } }>) => r.params.id,
          ...(header ? { header } : {}),
          ...extra,
          ...extra,
        }),
      },
      (req) => req.keywarden,
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

  function honoApp(verifier: VerifierLike, header?: string, extra: Extra = {}): Call {
    const app = new Hono();
    app.use(
      '/agents/:id',
      keywardenHono({
        verifier,
        environment: 'production',
        permission: 'agents:invoke',
        resource: (c) => c.req.param('id'),
        ...(header ? { header } : {}),
        ...extra,
      }),
    );
    app.get('/agents/:id', (c) => c.json(c.get('keywarden')));
    return async (path, headers) => {
      const res = await app.request(path, { headers });
      return { status: res.status, headers: res.headers, body: await res.text() };
    };
  }

  const frameworks: [string, (v: VerifierLike, header?: string, extra?: Extra) => Promise<Call> | Call][] = [
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

        // A path parameter that is no resource id is refused the same way in both modes (the
        // verifier's own check: in process it used to be verified and logged as given).
        const odd = await call('/agents/agt%2042', { authorization: `Bearer ${good}` });
        assert.equal(odd.status, 401, odd.body);
        assert.equal((JSON.parse(odd.body) as { code: string }).code, 'MALFORMED');

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

  test('misconfigured options throw when the middleware is built', () => {
    assert.throws(
      () => keywardenExpress({ verifier: undefined as never, environment: 'production' }),
      /verifier/,
    );
    assert.throws(() => keywardenFastify({ verifier: http, environment: 'prod' as never }), /environment/);
    assert.throws(
      () => keywardenHono({ verifier: http, environment: 'production', onUnavailable: 'maybe' as never }),
      /onUnavailable/,
    );
  });

  for (const [name, make] of frameworks) {
    test(`${name}: Keywarden down or refusing the verify key is a 503 problem, never HTML; allow lets through`, async () => {
      const lines: string[] = [];
      const log = (m: string): void => {
        lines.push(m);
      };
      const down = new KeywardenClient({ url: 'http://127.0.0.1:9', adminKey: t.root, timeoutMs: 2000 });
      const denied = await (
        await make(down, undefined, { log })
      )('/agents/agt_42', {
        authorization: `Bearer ${good}`,
      });
      assert.equal(denied.status, 503);
      assert.match(denied.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal((JSON.parse(denied.body) as { code: string }).code, 'SERVICE_UNAVAILABLE');
      assert.ok(!/<html|at .*\.js:\d+/i.test(denied.body), denied.body);
      assert.match(lines.join('\n'), /unavailable .*answering 503/);

      const reader = await api(t, 'POST', '/v1/admin-keys', {
        name: `mw-reader-${name}`,
        permissions: ['keys:read'],
      });
      const noVerify = new KeywardenClient({
        url: http instanceof KeywardenClient ? http['opts'].url : '',
        adminKey: String(reader.body.key),
      });
      const refused = await (
        await make(noVerify, undefined, { log, onUnavailable: 'allow' })
      )('/agents/agt_42', {
        authorization: `Bearer ${good}`,
      });
      assert.equal(refused.status, 503, 'a verify key without keys:verify is never "allowed through"');
      assert.match(lines.join('\n'), /keys:verify/);

      const before =
        (await sdkUnavailableCounter().get()).values.find((v) => v.labels.outcome === 'allowed')?.value ?? 0;
      const allowed = await (
        await make(down, undefined, { log, onUnavailable: 'allow' })
      )('/agents/agt_42', {
        authorization: `Bearer ${good}`,
      });
      assert.equal(allowed.status, 200);
      const after =
        (await sdkUnavailableCounter().get()).values.find((v) => v.labels.outcome === 'allowed')?.value ?? 0;
      assert.equal(after, before + 1);
      assert.match(lines.join('\n'), /letting the request through/);
      assert.ok(!lines.join('\n').includes(good.slice(8)), 'no key in the log');
    });
  }

  // The deprecated root exports are what this test is about.
  /* eslint-disable @typescript-eslint/no-deprecated */
  test('keywarden/sdk still exports the middleware, naming no framework in its types or its imports', async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    for (const entry of ['index.js', 'index.d.ts']) {
      const { files, bare } = importGraph(join(here, entry));
      assert.ok(
        files.some((f) => f.includes('root-middleware')),
        `${entry} reaches the middleware`,
      );
      for (const framework of ['express', 'fastify', 'hono'])
        assert.ok(!bare.has(framework), `${entry} imports ${framework} (through ${files.join(', ')})`);
      if (entry.endsWith('.d.ts'))
        for (const f of files) assert.doesNotMatch(readFileSync(f, 'utf8'), /namespace Express/, f);
    }
    // And they work as 0.1.0's did, in each framework.
    const opts = { verifier: http, environment: 'production' as const, permission: 'agents:invoke' };
    const e = express();
    e.get(
      '/agents/:id',
      root.keywardenExpress<express.Request>({ ...opts, resource: (r) => r.params.id }),
      (req, res) => {
        res.json(req.keywarden);
      },
    );
    const server = e.listen(0);
    await new Promise((r) => server.once('listening', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/agents/agt_42`;
      const ok = await fetch(url, { headers: { authorization: `Bearer ${good}` } });
      assert.equal(ok.status, 200);
      assert.equal(((await ok.json()) as KeyIdentity).customerId, 'cus_9');
      assert.equal((await fetch(url)).status, 401);
    } finally {
      await new Promise((r) => server.close(r));
    }
    const f = Fastify();
    f.decorateRequest('keywarden', null);
    f.get(
      '/agents/:id',
      { preHandler: root.keywardenFastify<FastifyRequest>({ ...opts, resource: () => 'agt_42' }) },
      (req) => req.keywarden,
    );
    const fr = await f.inject({
      method: 'GET',
      url: '/agents/agt_42',
      headers: { authorization: `Bearer ${good}` },
    });
    assert.equal(fr.statusCode, 200, fr.body);
    assert.equal((JSON.parse(fr.body) as KeyIdentity).customerId, 'cus_9');
    assert.equal((await f.inject({ method: 'GET', url: '/agents/agt_42' })).statusCode, 401);
    await f.close();
    const h = new Hono();
    h.use('/agents/:id', root.keywardenHono({ ...opts, resource: () => 'agt_42' }));
    h.get('/agents/:id', (c) => c.json(c.get('keywarden')));
    const hr = await h.request('/agents/agt_42', { headers: { authorization: `Bearer ${good}` } });
    assert.equal(hr.status, 200);
    assert.equal(((await hr.json()) as KeyIdentity).customerId, 'cus_9');
    assert.equal((await h.request('/agents/agt_42')).status, 401);
  });
  /* eslint-enable @typescript-eslint/no-deprecated */
});
