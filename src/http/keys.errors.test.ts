import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aKey, call, createKey, describeEachDialect } from '../testing/harness.js';

describeEachDialect('bad input is a precise 4xx and stores nothing', (t) => {
  async function count(): Promise<number> {
    const r = await t.kw.storage.db
      .selectFrom('keys')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async function expectProblem(
    method: 'POST' | 'PATCH' | 'GET',
    url: string,
    body: unknown,
    status: number,
    code: string,
    detail: RegExp,
    headers: Record<string, string> = {},
  ): Promise<void> {
    const before = await count();
    const r = await call(t, method, url, body, t.root, headers);
    assert.equal(r.status, status, r.raw);
    assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
    assert.equal(r.body.code, code);
    assert.equal(r.body.status, status);
    assert.equal(typeof r.body.title, 'string');
    assert.match(String(r.body.detail), detail);
    assert.equal(await count(), before, 'no record was stored');
  }

  test('unknown fields, wrong types, missing fields', async () => {
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ colour: 'red' }),
      400,
      'VALIDATION_FAILED',
      /unknown field "colour"/,
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ owner: { team: 'crm', tem: 'x' } }),
      400,
      'VALIDATION_FAILED',
      /body\.owner has an unknown field "tem"/,
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ name: 42 }),
      400,
      'VALIDATION_FAILED',
      /body\.name must be string/,
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ permissions: 'agents:invoke' }),
      400,
      'VALIDATION_FAILED',
      /body\.permissions must be array/,
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      { environment: 'production' },
      400,
      'VALIDATION_FAILED',
      /missing the required field "name"/,
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ environment: 'prod' }),
      400,
      'VALIDATION_FAILED',
      /environment must be one of "production", "staging", "development"/,
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ credits: { remaining: '5' } }),
      400,
      'VALIDATION_FAILED',
      /credits\.remaining must be integer/,
    );
    // Past what PostgreSQL's balance column holds: refused alike on both databases (it was a 500 there).
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ credits: { remaining: 2_147_483_648 } }),
      400,
      'VALIDATION_FAILED',
      /credits\.remaining must be <= 2147483647/,
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ credits: { remaining: 5, refill: { amount: 2_147_483_648, interval: 'daily' } } }),
      400,
      'VALIDATION_FAILED',
      /credits\.refill\.amount must be <= 2147483647/,
    );
    await expectProblem(
      'POST',
      '/v1/identities',
      { externalId: 'cus_big', credits: { remaining: 2_147_483_648 } },
      400,
      'VALIDATION_FAILED',
      /credits\.remaining must be <= 2147483647/,
    );
    const most = await createKey(t, { credits: { remaining: 2_147_483_647 } });
    const got = await call(t, 'GET', `/v1/keys/${most.id}`);
    assert.deepEqual(got.body.credits, { remaining: 2_147_483_647, refill: null });
    await expectProblem('POST', '/v1/keys', [1, 2], 400, 'VALIDATION_FAILED', /body must be object/);
  });

  test('bounded strings and metadata', async () => {
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ name: 'a'.repeat(129) }),
      400,
      'VALIDATION_FAILED',
      /body\.name must NOT have more than 128 characters/,
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ name: '' }),
      400,
      'VALIDATION_FAILED',
      /body\.name must NOT have fewer than 1 characters/,
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ metadata: { blob: 'x'.repeat(9000) } }),
      400,
      'VALIDATION_FAILED',
      /metadata is \d+ bytes as JSON; the limit is 8192/,
    );
    await expectProblem(
      'POST',
      '/v1/verify',
      { key: 'k'.repeat(513), environment: 'production' },
      400,
      'VALIDATION_FAILED',
      /body\.key must NOT have more than 512 characters/,
    );
  });

  test('semantic checks: permission grammar, CIDR, expiry, duplicates', async () => {
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ permissions: ['agents:invoke', 'agents'] }),
      400,
      'VALIDATION_FAILED',
      /permissions\[1\] "agents" is not a permission/,
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ ipAllowlist: ['10.0.0.0/33'] }),
      400,
      'VALIDATION_FAILED',
      /ipAllowlist\[0\] "10\.0\.0\.0\/33" is not/,
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ expiresAt: '2001-01-01T00:00:00Z' }),
      400,
      'VALIDATION_FAILED',
      /expiresAt .* is in the past/,
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ expiresAt: 'tomorrow' }),
      400,
      'VALIDATION_FAILED',
      /expiresAt must match format "date-time"/,
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({
        ratelimits: [
          { name: 'a', limit: 1, windowSeconds: 1 },
          { name: 'a', limit: 2, windowSeconds: 2 },
        ],
      }),
      400,
      'VALIDATION_FAILED',
      /ratelimits\[1\]\.name "a" is used twice/,
    );
    const k = await createKey(t, { name: 'crm-prod-unique-name' });
    await expectProblem(
      'POST',
      '/v1/keys',
      aKey({ name: 'crm-prod-unique-name' }),
      409,
      'CONFLICT',
      /a live key named "crm-prod-unique-name" already exists/,
    );
    await expectProblem(
      'PATCH',
      `/v1/keys/${k.id}`,
      {},
      400,
      'VALIDATION_FAILED',
      /the patch changes nothing/,
    );
    await expectProblem(
      'PATCH',
      `/v1/keys/${k.id}`,
      { environment: 'staging' },
      400,
      'VALIDATION_FAILED',
      /unknown field "environment"/,
    );
  });

  test('invalid JSON, broken UTF-8, lone surrogates, prototype poisoning, wrong media type', async () => {
    await expectProblem('POST', '/v1/keys', '{"name": "x",', 400, 'INVALID_JSON', /not valid JSON/, {
      'content-type': 'application/json',
    });
    await expectProblem(
      'POST',
      '/v1/keys',
      Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
      400,
      'INVALID_JSON',
      /not valid UTF-8/,
      { 'content-type': 'application/json' },
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      '{"name":"crm-prod-\\ud800","environment":"production"}',
      400,
      'INVALID_JSON',
      /unpaired UTF-16 surrogate/,
      { 'content-type': 'application/json' },
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      '{"name":"a-b-c","environment":"production","__proto__":{"x":1}}',
      400,
      'INVALID_JSON',
      /not valid JSON/,
      { 'content-type': 'application/json' },
    );
    await expectProblem(
      'POST',
      '/v1/keys',
      'name=x',
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      /unsupported Content-Type "text\/plain"/,
      { 'content-type': 'text/plain' },
    );
  });

  test('a body over 1 MiB is 413', async () => {
    const big = JSON.stringify(aKey({ metadata: { blob: 'x'.repeat(1024 * 1024) } }));
    await expectProblem('POST', '/v1/keys', big, 413, 'PAYLOAD_TOO_LARGE', /exceeds the 1 MiB limit/, {
      'content-type': 'application/json',
    });
  });

  test('unknown ids and routes are 404 problems; bad query values are 400', async () => {
    await expectProblem(
      'GET',
      '/v1/keys/key_doesnotexist',
      undefined,
      404,
      'NOT_FOUND',
      /no key with id key_doesnotexist/,
    );
    await expectProblem('POST', '/v1/keys/key_nope/disable', {}, 404, 'NOT_FOUND', /no key with id key_nope/);
    await expectProblem(
      'GET',
      '/v1/nothing-here',
      undefined,
      404,
      'NOT_FOUND',
      /no route GET \/v1\/nothing-here/,
    );
    await expectProblem(
      'GET',
      '/v1/keys?limit=0',
      undefined,
      400,
      'VALIDATION_FAILED',
      /query\.limit must be >= 1/,
    );
    await expectProblem(
      'GET',
      '/v1/keys?status=sleeping',
      undefined,
      400,
      'VALIDATION_FAILED',
      /query\.status must be one of/,
    );
    await expectProblem(
      'GET',
      '/v1/keys?colour=red',
      undefined,
      400,
      'VALIDATION_FAILED',
      /unknown field "colour"/,
    );
  });

  test('verify: malformed request fields are 400, not an outcome', async () => {
    await expectProblem(
      'POST',
      '/v1/verify',
      { key: 'x', environment: 'production', permission: 'agents:*' },
      400,
      'VALIDATION_FAILED',
      /"agents:\*" is not a permission to check/,
    );
    await expectProblem(
      'POST',
      '/v1/verify',
      { key: 'x', environment: 'production', ip: '1.2.3' },
      400,
      'VALIDATION_FAILED',
      /ip "1\.2\.3" is not an IPv4 or IPv6 address/,
    );
    await expectProblem(
      'POST',
      '/v1/verify',
      { key: 'x', environment: 'production', cost: -1 },
      400,
      'VALIDATION_FAILED',
      /cost must be >= 0/,
    );
    await expectProblem(
      'POST',
      '/v1/verify',
      { environment: 'production' },
      400,
      'VALIDATION_FAILED',
      /missing the required field "key"/,
    );
  });
});
