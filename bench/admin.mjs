// Benchmark 5: admin throughput (key creations per second through the service, with policy,
// audit and transaction) and the bulk helper that loads 1M keys, with its time.
import { freshKeywarden, bulkKeys, quick, round, save, table } from './lib.mjs';

export async function run() {
  const { kw } = await freshKeywarden();
  const actor = { id: 'adm_bench', permissions: new Set(['*']), team: null, ip: null };
  const creates = quick ? 300 : 5000;
  const expiresAt = new Date(Date.now() + 30 * 86_400_000).toISOString();
  const t0 = performance.now();
  for (let i = 0; i < creates; i++) {
    await kw.services.keys.create(actor, {
      name: `bench-prod-admin-${i}`,
      environment: 'production',
      owner: { team: 'bench', contact: 'b@x' },
      permissions: ['agents:invoke'],
      expiresAt,
    });
  }
  const perSec = Math.round(creates / ((performance.now() - t0) / 1000));
  const bulkN = quick ? 20_000 : 1_000_000;
  const bulk = await bulkKeys(kw, bulkN, 0, `bulk ${bulkN} keys`);
  await kw.close();
  const rows = [
    {
      what: 'POST /v1/keys path (service: policy + transaction + audit)',
      count: creates,
      'per second': perSec,
      seconds: round(creates / perSec),
    },
    {
      what: 'bulk helper (bench/lib.mjs bulkKeys)',
      count: bulkN,
      'per second': bulk.rowsPerSec,
      seconds: bulk.seconds,
    },
  ];
  table(rows);
  save('admin', { rows });
  return { createsPerSec: perSec, bulkSeconds: bulk.seconds, bulkN };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
