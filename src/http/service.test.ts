import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DIALECTS, call, createKey, startServer, verify, type TestServer } from '../testing/harness.js';

describe('service endpoints', () => {
  let t: TestServer;
  before(async () => {
    t = await startServer(DIALECTS[0] ?? { name: 'sqlite' });
  });
  after(async () => t.close());

  test('healthz and readyz without auth', async () => {
    assert.deepEqual((await call(t, 'GET', '/healthz', undefined, null)).body, { status: 'ok' });
    const r = await call(t, 'GET', '/readyz', undefined, null);
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'ready');
  });

  test('metrics: Prometheus text with verification counts by code', async () => {
    const k = await createKey(t);
    await verify(t, { key: k.key });
    await verify(t, { key: 'nope' });
    const r = await call(t, 'GET', '/metrics', undefined, null);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    assert.match(r.raw, /keywarden_verifications_total\{code="VALID"\} 1/);
    assert.match(r.raw, /keywarden_verifications_total\{code="MALFORMED"\} 1/);
    assert.match(r.raw, /keywarden_verify_duration_seconds_bucket/);
    assert.match(r.raw, /keywarden_cache_lookups_total\{result="miss"\}/);
    assert.match(r.raw, /process_resident_memory_bytes/);
  });

  test('requests are counted by route and status; unmatched paths apart; ids are unique', async () => {
    const k = await createKey(t);
    await verify(t, { key: k.key });
    const bad = await call(t, 'POST', '/v1/verify', { key: 1 });
    assert.equal(bad.status, 400);
    const missing = await call(t, 'GET', '/v1/nothing-here');
    assert.equal(missing.status, 404);
    const again = await call(t, 'GET', '/v1/nothing-here');
    const ids = [bad, missing, again].map((r) => (r.body as { requestId?: string }).requestId);
    assert.ok(
      ids.every((id) => /^req_[0-9a-f]{8}[0-9a-z]+$/.test(id ?? '')),
      ids.join(),
    );
    assert.equal(new Set(ids).size, 3);
    const m = (await call(t, 'GET', '/metrics', undefined, null)).raw;
    assert.match(m, /keywarden_http_requests_total\{route="\/v1\/verify",status="200"\} [1-9]/);
    assert.match(m, /keywarden_http_requests_total\{route="\/v1\/verify",status="400"\} 1\n/);
    assert.match(m, /keywarden_http_requests_total\{route="unmatched",status="404"\} 2\n/);
    // The refusal was logged (debug) by the request's own logger, with its id.
    assert.ok(t.logs().includes(`"reqId":"${ids[0] ?? ''}"`), 'the refused request logged with its id');
  });

  test('openapi.json is OpenAPI 3.1 built from the validating schemas', async () => {
    const r = await call(t, 'GET', '/openapi.json', undefined, null);
    assert.equal(r.status, 200);
    const doc = r.body as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: {
              content: Record<
                string,
                { schema: { $ref?: string; additionalProperties?: boolean; required?: string[] } }
              >;
            };
          }
        >
      >;
    };
    assert.equal(doc.openapi, '3.1.0');
    for (const p of [
      '/v1/keys',
      '/v1/keys/{id}',
      '/v1/keys/{id}/disable',
      '/v1/keys/{id}/enable',
      '/v1/keys/{id}/regenerate',
      '/v1/verify',
      '/v1/admin-keys',
      '/v1/admin-keys/{id}',
      '/v1/audit',
      '/v1/audit/verify',
      '/healthz',
      '/readyz',
      '/metrics',
    ]) {
      assert.ok(doc.paths[p], `${p} missing`);
    }
    // Request bodies are named component schemas ($ref): follow the reference to the schema itself.
    const body = doc.paths['/v1/keys']?.post?.requestBody?.content['application/json']?.schema;
    const components = (r.body as { components?: { schemas?: Record<string, typeof body> } }).components;
    const create =
      body?.$ref !== undefined ? components?.schemas?.[body.$ref.replace('#/components/schemas/', '')] : body;
    assert.equal(create?.additionalProperties, false, 'the documented schema is the validating one');
    assert.deepEqual(create?.required, ['name', 'environment']);
  });
});
