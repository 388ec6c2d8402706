import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VERIFY_CODES, type VerifyCode, type VerifyResult } from '../core/verify.js';
import { guard, type VerifierLike } from './guard.js';

/** A verifier that answers `code` for any key, with no server. */
const answering = (code: string): VerifierLike => ({
  verify: () => Promise.resolve({ valid: code === 'VALID', code, keyId: null } as unknown as VerifyResult),
});

const run = (code: string) =>
  guard(
    { verifier: answering(code), environment: 'production', permission: 'agents:invoke' },
    {},
    { headers: { authorization: 'Bearer kw_prod_x' } },
  );

const EXPECTED: Record<Exclude<VerifyCode, 'VALID'>, number> = {
  MALFORMED: 401,
  NOT_FOUND: 401,
  DELETED: 401,
  DISABLED: 401,
  EXPIRED: 401,
  ENVIRONMENT_MISMATCH: 401,
  IP_NOT_ALLOWED: 403,
  INSUFFICIENT_PERMISSIONS: 403,
  RATE_LIMITED: 429,
  USAGE_EXCEEDED: 429,
};

test("the guard answers each refusal with the core's platform status and a matching challenge", async () => {
  for (const code of VERIFY_CODES) {
    if (code === 'VALID') continue;
    const out = await run(code);
    assert.equal(out.ok, false, code);
    if (out.ok) continue;
    assert.equal(out.status, EXPECTED[code], code);
    assert.equal(out.body.code, code);
    const challenge = out.headers['www-authenticate'] ?? '';
    if (out.status === 401) assert.match(challenge, /error="invalid_token"/, code);
    if (out.status === 403) assert.match(challenge, /error="insufficient_scope"/, code);
    if (out.status === 429) assert.equal(challenge, '', code);
  }
});

test('a code the SDK does not know (a newer server) is refused as 401, not passed or thrown', async () => {
  const out = await run('SOMETHING_NEW');
  assert.equal(out.ok, false);
  assert.equal(out.ok ? 0 : out.status, 401);
});
