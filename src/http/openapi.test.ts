import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../testing/harness.js';
import { OPERATION_IDS, operationIdFor } from './openapi.js';

interface Doc {
  paths: Record<
    string,
    Record<
      string,
      {
        operationId?: string;
        requestBody?: { required?: boolean };
        description?: string;
        security?: unknown;
        responses?: Record<string, unknown>;
      }
    >
  >;
  components: { schemas: Record<string, unknown> };
}

describe('the OpenAPI document and /docs', () => {
  let t: TestServer;
  let doc: Doc;
  before(async () => {
    t = await startServer({ name: 'sqlite' });
    doc = JSON.parse((await t.kw.app.inject({ method: 'GET', url: '/openapi.json' })).body) as Doc;
  });
  after(async () => t.close());

  test('every operation has a unique operationId, the documented ones as listed', () => {
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    assert.ok(ids.length >= 30, `${ids.length} operations`);
    assert.ok(
      ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z0-9]*$/.test(id)),
      JSON.stringify(ids),
    );
    assert.equal(
      new Set(ids).size,
      ids.length,
      `duplicates: ${ids.filter((id, i) => ids.indexOf(id) !== i).join(', ')}`,
    );
    const at = (path: string, method: string): string | undefined => doc.paths[path]?.[method]?.operationId;
    assert.equal(at('/v1/keys', 'post'), 'createKey');
    assert.equal(at('/v1/verify', 'post'), 'verifyKey');
    assert.equal(at('/v1/keys/{id}/disable', 'post'), 'disableKey');
    assert.equal(new Set(Object.values(OPERATION_IDS)).size, Object.keys(OPERATION_IDS).length);
  });

  test('admin operations carry the bearer scheme, their permission once, 401/403 and their own refusals', () => {
    const ops = Object.entries(doc.paths).flatMap(([path, byMethod]) =>
      Object.entries(byMethod).map(([method, op]) => ({ at: `${method} ${path}`, op })),
    );
    const admin = ops.filter(({ op }) => /Requires the admin permission/.test(op.description ?? ''));
    assert.ok(admin.length >= 25, `${admin.length} admin operations`);
    for (const { at, op } of admin) {
      assert.deepEqual(op.security, [{ bearerAuth: [] }], at);
      assert.equal(
        op.description?.match(/Requires the admin permission/g)?.length,
        1,
        `${at}: ${op.description}`,
      );
      for (const status of ['401', '403']) assert.ok(op.responses?.[status] !== undefined, `${at} ${status}`);
    }
    for (const { at, op } of ops.filter((o) => !admin.includes(o)))
      assert.equal(op.security, undefined, `${at} is public and documented without the bearer scheme`);
    const responses = (path: string, method: string): string[] =>
      Object.keys(doc.paths[path]?.[method]?.responses ?? {}).sort();
    assert.deepEqual(responses('/v1/keys', 'post'), ['201', '400', '401', '403', '404', '409', '422']);
    assert.deepEqual(responses('/v1/audit/head', 'get'), ['200', '401', '403']);
    assert.deepEqual(responses('/v1/webhooks', 'post'), ['201', '400', '401', '403', '404', '422']);
  });

  test('a route without an entry gets a generated id that cannot collide with the table', () => {
    assert.equal(operationIdFor('GET', '/v1/things/:id/parts'), 'getV1ThingsIdParts');
    assert.equal(operationIdFor('POST', '/v1/keys'), 'createKey');
    const generated = Object.keys(OPERATION_IDS).map((k) => {
      const [m = '', u = ''] = k.split(' ');
      return (
        m.toLowerCase() +
        u
          .split(/[^A-Za-z0-9]+/)
          .filter(Boolean)
          .map((w) => (w[0] ?? '').toUpperCase() + w.slice(1))
          .join('')
      );
    });
    // A table id may equal its own route's generated id, never another route's.
    Object.values(OPERATION_IDS).forEach((id, i) => {
      assert.ok(
        generated.every((g, j) => g !== id || i === j),
        id,
      );
    });
  });

  test('entities and requests are named component schemas, and every $ref resolves', () => {
    for (const name of [
      'Key',
      'KeyCreate',
      'KeyPatch',
      'VerifyRequest',
      'VerifyResult',
      'Problem',
      'AdminKey',
      'AuditEntry',
      'LogEntry',
      'Policy',
      'GovernanceReport',
      'Webhook',
    ]) {
      assert.ok(name in doc.components.schemas, name);
    }
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map(
      (m) => m[1],
    );
    assert.ok(refs.length > 50);
    for (const r of refs)
      assert.ok(r !== undefined && r in doc.components.schemas, `dangling $ref ${String(r)}`);
    const keyCreate = doc.components.schemas.KeyCreate as { examples?: unknown[] };
    assert.ok((keyCreate.examples ?? []).length > 0, 'KeyCreate has an example');
  });

  test('bodies are optional where the server accepts none, required where it needs one', () => {
    for (const p of ['/v1/keys/{id}/disable', '/v1/keys/{id}/enable', '/v1/keys/{id}/regenerate']) {
      assert.equal(doc.paths[p]?.post?.requestBody?.required, false, p);
    }
    assert.equal(doc.paths['/v1/keys']?.post?.requestBody?.required, true);
    assert.equal(doc.paths['/v1/verify']?.post?.requestBody?.required, true);
  });

  test('/docs serves the reference from bundled files under a CSP without inline scripts', async () => {
    const page = await t.kw.app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /text\/html/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.ok(!csp.includes('unsafe-inline') && !csp.includes('https:'), csp);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.ok(!/<script>[^<]/.test(page.body), 'no inline script');
    for (const src of page.body.matchAll(/src="([^"]+)"/g)) {
      assert.ok(!/^(https?:)?\/\//.test(src[1] ?? ''), `remote script ${String(src[1])}`);
    }
    const bundle = await t.kw.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    assert.equal(bundle.statusCode, 200);
    const spec = JSON.parse((await t.kw.app.inject({ method: 'GET', url: '/docs/json' })).body) as Doc;
    assert.equal(spec.paths['/v1/keys']?.post?.operationId, 'createKey');
  });
});
