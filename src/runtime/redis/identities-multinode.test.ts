import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { aKey, redisUrl, testPgUrl } from '../../testing/harness.js';
import { api, startCluster, uniqueName, within, type Cluster, type Node } from '../../testing/nodes.js';

const enabled = testPgUrl !== undefined && redisUrl !== undefined;

/** Identities across two real nodes sharing PostgreSQL and Redis (issue 22; docs/identities.md). */
describe(
  "an identity's limits across two nodes",
  { skip: !enabled && 'needs KEYWARDEN_TEST_DATABASE_URL and KEYWARDEN_TEST_REDIS_URL', timeout: 120_000 },
  () => {
    const nodes: Node[] = [];
    let root = '';
    const verifyOn = async (n: Node, key: string): Promise<Record<string, unknown>> =>
      (await api(n.url, root, 'POST', '/v1/verify', { key, environment: 'production' })).body;

    let cluster: Cluster | undefined;
    before(async () => {
      cluster = await startCluster('kw_idn', 2);
      nodes.push(...cluster.nodes);
      root = cluster.root;
    });
    after(async () => cluster?.close());

    async function setup(
      identity: Record<string, unknown>,
      keys: number,
    ): Promise<{ id: string; keys: string[] }> {
      const [n1] = nodes as [Node, Node];
      const idn = await api(n1.url, root, 'POST', '/v1/identities', {
        externalId: uniqueName('cus'),
        owner: { team: 'crm' },
        ...identity,
      });
      assert.equal(idn.status, 201, JSON.stringify(idn.body));
      const id = idn.body.id as string;
      const out: string[] = [];
      for (let i = 0; i < keys; i++) {
        const k = await api(n1.url, root, 'POST', '/v1/keys', {
          ...aKey({ name: uniqueName('crm-prod-idn').replace(/_/g, '-'), identityId: id }),
          permissions: [],
          ratelimits: [{ name: 'own', limit: 1000, windowSeconds: 3600 }],
        });
        assert.equal(k.status, 201, JSON.stringify(k.body));
        out.push(k.body.key as string);
      }
      return { id, keys: out };
    }

    test('concurrent calls through both nodes: exactly the identity’s limit and balance pass', async () => {
      const limited = await setup({ ratelimits: [{ name: 'customer', limit: 15, windowSeconds: 3600 }] }, 3);
      const calls = Array.from({ length: 45 }, (_, i) =>
        verifyOn(nodes[i % 2] as Node, limited.keys[i % 3] ?? ''),
      );
      const codes = (await Promise.all(calls)).map((r) => r.code);
      assert.equal(codes.filter((c) => c === 'VALID').length, 15);
      assert.equal(codes.filter((c) => c === 'RATE_LIMITED').length, 30);

      const credited = await setup({ credits: { remaining: 11 } }, 2);
      const paid = (
        await Promise.all(
          Array.from({ length: 30 }, (_, i) => verifyOn(nodes[i % 2] as Node, credited.keys[i % 2] ?? '')),
        )
      ).map((r) => r.code);
      assert.equal(paid.filter((c) => c === 'VALID').length, 11);
      assert.equal(paid.filter((c) => c === 'USAGE_EXCEEDED').length, 19);
    });

    test('a change to the identity on node 1 applies on node 2 within 1 s', async () => {
      const [n1, n2] = nodes as [Node, Node];
      const s = await setup({ ratelimits: [{ name: 'customer', limit: 1000, windowSeconds: 3600 }] }, 1);
      const key = s.keys[0] ?? '';
      const first = await verifyOn(n2, key);
      assert.equal(first.code, 'VALID', 'cached on node 2');
      assert.equal((first.identity as { ratelimit: { limit: number } }).ratelimit.limit, 1000);
      const p = await api(n1.url, root, 'PATCH', `/v1/identities/${s.id}`, {
        ratelimits: [{ name: 'customer', limit: 2, windowSeconds: 60 }],
      });
      assert.equal(p.status, 200, JSON.stringify(p.body));
      const ms = await within(1000, async () => {
        const r = await verifyOn(n2, key);
        return (r.identity as { ratelimit: { limit: number } | null }).ratelimit?.limit === 2;
      });
      assert.ok(ms < 1000);
      const del = await api(n1.url, root, 'DELETE', `/v1/identities/${s.id}`);
      assert.equal(del.status, 200);
      await within(1000, async () => (await verifyOn(n2, key)).identity === undefined);
    });
  },
);
