// `npm run fuzz`: the seeded fuzz campaign of the test suite at full size (20,000 requests by
// default; `npm run fuzz -- 50000 7` sets the count and the seed). Builds nothing: run
// `npm run build` first (the npm script does).
import { listen } from '../dist/testing/edge.js';
import { runFuzz } from '../dist/testing/fuzz.js';
import { startServer } from '../dist/testing/harness.js';

const requests = Number(process.argv[2] ?? 20000);
const seed = Number(process.argv[3] ?? 1515);
const t = await startServer({ name: 'sqlite' });
try {
  const port = await listen(t);
  const t0 = performance.now();
  const report = await runFuzz({
    port,
    rootKey: t.root,
    seed,
    requests,
    db: t.kw.storage.db,
    // Verifications are written by a timed flush: commit them before each window (see runFuzz).
    settle: () => t.kw.services.ctx.usage.flush(),
  });
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(
    `fuzz: ${report.requests} requests, seed ${seed}, ${s} s, by status ${JSON.stringify(report.byStatus)}`,
  );
  for (const f of report.failures) console.log(`  FAIL ${f}`);
  process.exitCode = report.failures.length === 0 ? 0 : 1;
} finally {
  await t.close();
}
