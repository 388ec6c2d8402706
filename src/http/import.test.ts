import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { aKey, call, createKey, describeEachDialect, verify } from '../testing/harness.js';

/** A key string from another system (not in Keywarden's format). */
const foreign = (): string => `sk_live_${randomBytes(24).toString('hex')}`;
const sha = (s: string, enc: 'hex' | 'base64'): string => createHash('sha256').update(s).digest(enc);
const item = (over: Record<string, unknown>): Record<string, unknown> => {
  const { owner, ...rest } = aKey();
  return { ...rest, owner, ...over };
};

describeEachDialect('importing existing keys', (t) => {
  const misses = (): number => t.kw.services.ctx.metrics.cache.miss.n;

  test('before any import, a string outside the format is MALFORMED without a lookup', async () => {
    const before = misses();
    const v = await verify(t, { key: foreign() });
    assert.equal(v.code, 'MALFORMED');
    assert.equal(misses(), before, 'no cache lookup, so no storage lookup');
  });

  test('plaintext, hex and base64 hashes import item by item; each verifies with its own string', async () => {
    const plain = foreign();
    const viaHex = foreign();
    const viaB64 = foreign();
    await call(t, 'POST', '/v1/roles', { name: 'importer-role', permissions: ['orders:read'] });
    const r = await call(t, 'POST', '/v1/keys/import', {
      keys: [
        item({ name: 'shop-prod-plain', key: plain, roles: ['importer-role'] }),
        item({
          name: 'shop-prod-hex',
          hash: { algorithm: 'sha256', encoding: 'hex', value: sha(viaHex, 'hex') },
        }),
        item({
          name: 'shop-prod-b64',
          hash: { algorithm: 'sha256', encoding: 'base64', value: sha(viaB64, 'base64') },
        }),
        item({
          name: 'shop-prod-both',
          key: foreign(),
          hash: { algorithm: 'sha256', encoding: 'hex', value: sha('x', 'hex') },
        }),
        item({ name: 'shop-prod-badhash', hash: { algorithm: 'sha256', encoding: 'hex', value: 'abc' } }),
        item({ name: 'shop-prod-dup', key: plain }),
        item({ name: 'shop-prod-plain', key: foreign() }),
        item({ name: 'shop-prod-norole', key: foreign(), roles: ['ghost'] }),
        item({ name: 'shop-prod-short', key: 'short-key' }),
        { name: 'shop-prod-shape', environment: 'production', key: foreign(), colour: 'blue' },
        item({ name: 'shop-prod-wild', key: foreign(), permissions: ['*'] }),
      ],
    });
    assert.equal(r.status, 200, r.raw);
    assert.equal(r.body.imported, 3);
    assert.equal(r.body.refused, 8);
    const items = r.body.items as {
      index: number;
      status: string;
      code?: string;
      detail?: string;
      id?: string;
    }[];
    assert.deepEqual(
      items.map((i) => i.status),
      ['imported', 'imported', 'imported', ...Array<string>(8).fill('refused')],
    );
    const detail = (i: number): string => String(items[i]?.detail);
    assert.match(detail(3), /exactly one of them/);
    assert.match(detail(4), /not the hex encoding of a 32-byte SHA-256 digest/);
    assert.match(detail(5), /secret already exists/);
    assert.match(detail(6), /already exists/);
    assert.match(detail(7), /unknown role "ghost"/);
    assert.match(detail(8), /shorter than 16/);
    assert.match(detail(9), /keys\[9\] has an unknown field "colour"/);
    assert.match(detail(10), /allowWildcards/);
    // Nothing of a refused item was written.
    const list = await call(t, 'GET', '/v1/keys?q=shop-prod');
    assert.deepEqual((list.body.items as { name: string }[]).map((k) => k.name).sort(), [
      'shop-prod-b64',
      'shop-prod-hex',
      'shop-prod-plain',
    ]);
    for (const s of [plain, viaHex, viaB64]) assert.equal((await verify(t, { key: s })).code, 'VALID');
    const v = await verify(t, { key: plain, permission: 'orders:read' });
    assert.equal(v.code, 'VALID', 'roles apply to imported keys');
    // An unknown foreign string: MALFORMED after one lookup, then from the negative cache.
    const stranger = foreign();
    assert.equal((await verify(t, { key: stranger })).code, 'MALFORMED');
    const m = misses();
    assert.equal((await verify(t, { key: stranger })).code, 'MALFORMED');
    assert.equal(misses(), m, 'the second try is answered from the negative cache');
    // Display: masked with the plaintext, "imported" with a hash only; never the secret.
    const [p, h] = [items[0]?.id, items[1]?.id];
    const rec = (await call(t, 'GET', `/v1/keys/${p}`)).body;
    assert.equal(rec.start, plain.slice(0, 4));
    assert.equal(rec.end, plain.slice(-4));
    assert.deepEqual((rec.imported as { from: string }).from, 'plaintext');
    assert.ok(!JSON.stringify(rec).includes(plain));
    const hrec = (await call(t, 'GET', `/v1/keys/${h}`)).body;
    assert.equal(hrec.start, 'imported');
    assert.equal((hrec.imported as { from: string }).from, 'hash');
    const audit = await call(t, 'GET', `/v1/audit?action=key.import&target=${p}`);
    assert.equal((audit.body.items as unknown[]).length, 1);
    assert.ok(!audit.raw.includes(plain));
    // The governance report lists them for regeneration.
    const report = await call(t, 'GET', '/v1/reports/governance');
    const imported = report.body.imported as { keyId: string; reason: string }[];
    assert.deepEqual(imported.map((f) => f.keyId).sort(), [p, h, items[2]?.id].sort());
    assert.match(imported[0]?.reason ?? '', /regenerate/);
  });

  test('a string presented before its import verifies right after it (negative entry dropped)', async () => {
    const s = foreign();
    assert.equal((await verify(t, { key: s })).code, 'MALFORMED');
    const r = await call(t, 'POST', '/v1/keys/import', { keys: [item({ name: 'late-prod-agent', key: s })] });
    assert.equal(r.body.imported, 1, r.raw);
    assert.equal((await verify(t, { key: s })).code, 'VALID');
  });

  test('regenerating an imported key issues a Keywarden key; the old string stops', async () => {
    const s = foreign();
    const r = await call(t, 'POST', '/v1/keys/import', {
      keys: [item({ name: 'regen-prod-agent', key: s })],
    });
    const id = (r.body.items as { id: string }[])[0]?.id ?? '';
    const g = await call(t, 'POST', `/v1/keys/${id}/regenerate`, {});
    assert.equal(g.status, 200, g.raw);
    const key = g.body.key as string;
    assert.match(key, /^kw_prod_/);
    assert.equal((g.body.record as { imported: unknown }).imported, null);
    assert.equal((await verify(t, { key })).code, 'VALID');
    assert.equal((await verify(t, { key: s })).code, 'EXPIRED');
  });

  test('a plaintext in this deployment’s format is stored like Keywarden’s own; admin keys are refused', async () => {
    const made = await createKey(t, { name: 'elsewhere-prod-made' });
    // Take it out (delete frees the name, not the secret): import the same string under a new record.
    const dup = await call(t, 'POST', '/v1/keys/import', {
      keys: [item({ name: 'fmt-prod-agent', key: made.key })],
    });
    assert.match(String((dup.body.items as { detail: string }[])[0]?.detail), /secret already exists/);
    const adm = await call(t, 'POST', '/v1/keys/import', {
      keys: [item({ name: 'adm-prod-agent', key: t.root })],
    });
    assert.match(String((adm.body.items as { detail: string }[])[0]?.detail), /admin key/);
  });

  test('a team-scoped admin imports only into its own team; over 1,000 items is a 400', async () => {
    const a = await call(t, 'POST', '/v1/admin-keys', {
      name: 'crm-importer',
      permissions: ['keys:write'],
      team: 'crm',
    });
    const scoped = a.body.key as string;
    const r = await call(
      t,
      'POST',
      '/v1/keys/import',
      {
        keys: [
          item({ name: 'crm-prod-mine', key: foreign(), owner: { team: 'crm', contact: 'c@x' } }),
          item({ name: 'ops-prod-theirs', key: foreign(), owner: { team: 'ops', contact: 'o@x' } }),
        ],
      },
      scoped,
    );
    assert.equal(r.status, 200, r.raw);
    const items = r.body.items as { status: string; code?: string }[];
    assert.deepEqual(
      items.map((i) => i.status),
      ['imported', 'refused'],
    );
    assert.equal(items[1]?.code, 'FORBIDDEN');
    const many = await call(t, 'POST', '/v1/keys/import', { keys: Array.from({ length: 1001 }, () => ({})) });
    assert.equal(many.status, 400);
    assert.match(String(many.body.detail), /1000/);
  });
});
