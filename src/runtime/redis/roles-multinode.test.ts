import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { aKey, redisUrl, testPgUrl } from '../../testing/harness.js';
import { api, startCluster, within, type Cluster, type Node } from '../../testing/nodes.js';

const enabled = testPgUrl !== undefined && redisUrl !== undefined;

describe(
  'roles and imported keys across two nodes sharing PostgreSQL and Redis',
  { skip: !enabled && 'needs KEYWARDEN_TEST_DATABASE_URL and KEYWARDEN_TEST_REDIS_URL', timeout: 120_000 },
  () => {
    const nodes: Node[] = [];
    let root = '';
    const verifyOn = async (n: Node, key: string, permission?: string): Promise<string> =>
      (
        await api(n.url, root, 'POST', '/v1/verify', {
          key,
          environment: 'production',
          ...(permission === undefined ? {} : { permission }),
        })
      ).body.code as string;

    let cluster: Cluster | undefined;
    before(async () => {
      cluster = await startCluster('kw_roles', 2);
      nodes.push(...cluster.nodes);
      root = cluster.root;
    });
    after(async () => cluster?.close());

    test('PATCH of a role on node 1 changes the holding keys’ answers on node 2 within 1 s', async (t) => {
      const [n1, n2] = nodes as [Node, Node];
      assert.equal(
        (await api(n1.url, root, 'POST', '/v1/roles', { name: 'agents', permissions: ['agents:invoke'] }))
          .status,
        201,
      );
      const keys: string[] = [];
      for (const name of ['crm-prod-role-a', 'crm-prod-role-b']) {
        const c = await api(n1.url, root, 'POST', '/v1/keys', {
          ...aKey({ name, permissions: [], roles: ['agents'] }),
        });
        assert.equal(c.status, 201, JSON.stringify(c.body));
        keys.push(c.body.key as string);
      }
      // Cached on both nodes with the role's permissions.
      for (const n of nodes)
        for (const k of keys) assert.equal(await verifyOn(n, k, 'agents:invoke'), 'VALID');
      const p = await api(n1.url, root, 'PATCH', '/v1/roles/agents', { permissions: ['agents:list'] });
      assert.equal(p.status, 200, JSON.stringify(p.body));
      const ms = await within(1000, async () => {
        for (const k of keys)
          if ((await verifyOn(n2, k, 'agents:invoke')) !== 'INSUFFICIENT_PERMISSIONS') return false;
        return true;
      });
      t.diagnostic(`node 2 followed the role change in ${ms.toFixed(0)} ms`);
      for (const k of keys) assert.equal(await verifyOn(n2, k, 'agents:list'), 'VALID');
    });

    test('a key imported on node 1 verifies on node 2 (which learns that imported keys exist)', async () => {
      const [n1, n2] = nodes as [Node, Node];
      const s = `sk_live_${randomBytes(24).toString('hex')}`;
      // Node 2 has no imported keys yet: MALFORMED without a lookup.
      assert.equal(await verifyOn(n2, s), 'MALFORMED');
      const r = await api(n1.url, root, 'POST', '/v1/keys/import', {
        keys: [{ ...aKey({ name: 'shop-prod-imported' }), key: s }],
      });
      assert.equal(r.body.imported, 1, JSON.stringify(r.body));
      await within(1000, async () => (await verifyOn(n2, s)) === 'VALID');
      assert.equal(await verifyOn(n1, s), 'VALID');
    });
  },
);
