import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { aKey, redisUrl, testPgUrl } from '../../testing/harness.js';
import { api, startCluster, within, type Cluster, type Node } from '../../testing/nodes.js';

const enabled = testPgUrl !== undefined && redisUrl !== undefined;

describe(
  'three stateless nodes sharing PostgreSQL and Redis',
  { skip: !enabled && 'needs KEYWARDEN_TEST_DATABASE_URL and KEYWARDEN_TEST_REDIS_URL', timeout: 120_000 },
  () => {
    const nodes: Node[] = [];
    let root = '';
    const verifyOn = async (n: Node, key: string): Promise<string> =>
      (await api(n.url, root, 'POST', '/v1/verify', { key, environment: 'production' })).body.code as string;

    let cluster: Cluster | undefined;
    before(async () => {
      cluster = await startCluster('kw_mn', 3);
      nodes.push(...cluster.nodes);
      root = cluster.root;
    });
    after(async () => cluster?.close());

    test('a key created on node 1 verifies on nodes 2 and 3', async () => {
      const [n1, n2, n3] = nodes as [Node, Node, Node];
      const c = await api(n1.url, root, 'POST', '/v1/keys', {
        ...aKey({ name: 'crm-prod-multi' }),
      });
      assert.equal(c.status, 201);
      const key = c.body.key as string;
      assert.equal(await verifyOn(n2, key), 'VALID');
      assert.equal(await verifyOn(n3, key), 'VALID');
    });

    test('disable on node 2: every node rejects within 1 s (and node 2 at once)', async (t) => {
      const [n1, n2, n3] = nodes as [Node, Node, Node];
      const c = await api(n1.url, root, 'POST', '/v1/keys', {
        ...aKey({ name: 'crm-prod-revoke' }),
      });
      const key = c.body.key as string;
      const id = (c.body.record as { id: string }).id;
      for (const n of nodes) assert.equal(await verifyOn(n, key), 'VALID', 'cached everywhere first');
      assert.equal(
        (await api(n2.url, root, 'POST', `/v1/keys/${id}/disable`, { reason: 'leak' })).status,
        200,
      );
      assert.equal(await verifyOn(n2, key), 'DISABLED', 'the node that served the change: at once');
      const lag1 = await within(1000, async () => (await verifyOn(n1, key)) === 'DISABLED');
      const lag3 = await within(1000, async () => (await verifyOn(n3, key)) === 'DISABLED');
      assert.ok(lag1 < 1000 && lag3 < 1000, `lags ${lag1} and ${lag3} ms`);
      t.diagnostic(
        `revocation lag: node 1 ${lag1.toFixed(1)} ms, node 3 ${lag3.toFixed(1)} ms (polling every 10 ms)`,
      );
    });

    test('the rate limit is exact across nodes: limit N, N pass in total', async () => {
      const c = await api((nodes[0] as Node).url, root, 'POST', '/v1/keys', {
        ...aKey({ name: 'crm-prod-limited' }),
        ratelimits: [{ name: 'shared', limit: 30, windowSeconds: 3600 }],
      });
      const key = c.body.key as string;
      const codes = await Promise.all(
        Array.from({ length: 90 }, (_, i) => verifyOn(nodes[i % 3] as Node, key)),
      );
      assert.equal(codes.filter((x) => x === 'VALID').length, 30);
      assert.equal(codes.filter((x) => x === 'RATE_LIMITED').length, 60);
      // Each node flushes its own usage batch; the additive upserts must add up to every call.
      const id = (c.body.record as { id: string }).id;
      await within(10_000, async () => {
        const u = await api((nodes[1] as Node).url, root, 'GET', `/v1/keys/${id}/usage`);
        const totals = u.body.totals as Record<string, number> | undefined;
        return totals?.VALID === 30 && totals.RATE_LIMITED === 60;
      });
      const logs = await api((nodes[2] as Node).url, root, 'GET', `/v1/logs?keyId=${id}&limit=500`);
      assert.equal(
        (logs.body.items as { count: number }[]).reduce((n, r) => n + r.count, 0),
        90,
        'every verification counted in the log (minute rows), from all nodes',
      );
    });

    test('credits are shared: the balance is spent once across nodes', async () => {
      const c = await api((nodes[0] as Node).url, root, 'POST', '/v1/keys', {
        ...aKey({ name: 'crm-prod-credits' }),
        credits: { remaining: 12 },
      });
      const key = c.body.key as string;
      const codes = await Promise.all(
        Array.from({ length: 36 }, (_, i) => verifyOn(nodes[i % 3] as Node, key)),
      );
      assert.equal(codes.filter((x) => x === 'VALID').length, 12);
    });

    test('regenerate on node 3: the old secret is rejected everywhere within 1 s', async () => {
      const [n1, n2, n3] = nodes as [Node, Node, Node];
      const c = await api(n1.url, root, 'POST', '/v1/keys', {
        ...aKey({ name: 'crm-prod-rotate' }),
      });
      const key = c.body.key as string;
      const id = (c.body.record as { id: string }).id;
      for (const n of nodes) assert.equal(await verifyOn(n, key), 'VALID');
      const r = await api(n3.url, root, 'POST', `/v1/keys/${id}/regenerate`, {});
      assert.equal(r.status, 200);
      assert.equal(await verifyOn(n3, key), 'EXPIRED');
      await within(1000, async () => (await verifyOn(n1, key)) === 'EXPIRED');
      await within(1000, async () => (await verifyOn(n2, key)) === 'EXPIRED');
      for (const n of nodes) assert.equal(await verifyOn(n, r.body.key as string), 'VALID');
    });
  },
);
