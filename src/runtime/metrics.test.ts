import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from './metrics.js';

/** Prometheus text lines of one metric (name prefix), without HELP/TYPE comments. */
async function lines(m: Metrics, name: string): Promise<string[]> {
  return (await m.registry.metrics()).split('\n').filter((l) => l.startsWith(name));
}

test('the verification histogram is exact and cumulative, and scraping does not change it', async () => {
  const m = new Metrics({ defaultMetrics: false });
  for (const s of [0.000002, 0.00002, 0.00002, 0.3, 7]) m.verifyDuration.record(s);
  m.verifyDuration.record(Number.NaN); // ignored: it would poison the sum for good
  const first = await lines(m, 'keywarden_verify_duration_seconds');
  assert.deepEqual(
    await lines(m, 'keywarden_verify_duration_seconds'),
    first,
    'a second scrape reads the same',
  );
  const get = (le: string): string | undefined =>
    first.find((l) => l.startsWith(`keywarden_verify_duration_seconds_bucket{le="${le}"}`))?.split(' ')[1];
  assert.equal(get('0.00001'), '1');
  assert.equal(get('0.00005'), '3');
  assert.equal(get('0.1'), '3');
  assert.equal(get('0.5'), '4');
  assert.equal(get('+Inf'), '5');
  assert.ok(first.includes('keywarden_verify_duration_seconds_count 5'));
  const sum = Number(first.find((l) => l.startsWith('keywarden_verify_duration_seconds_sum'))?.split(' ')[1]);
  assert.ok(Math.abs(sum - 7.300042) < 1e-9, String(sum));

  // The programmatic readers work too (prom-client's get() and the JSON export).
  const h = await m.verifyDuration.get();
  assert.equal(h.values.find((v) => v.metricName === 'keywarden_verify_duration_seconds_count')?.value, 5);
  assert.ok(
    (await m.registry.getMetricsAsJSON()).some((x) => x.name === 'keywarden_verify_duration_seconds'),
  );
  m.registry.resetMetrics();
  assert.ok(
    (await lines(m, 'keywarden_verify_duration_seconds_count')).includes(
      'keywarden_verify_duration_seconds_count 0',
    ),
  );
});

test('outcome and cache counters count every bump, once, across scrapes', async () => {
  const m = new Metrics({ defaultMetrics: false });
  for (let i = 0; i < 7; i++) m.cache.hit.inc();
  m.cache.miss.inc();
  const once = await lines(m, 'keywarden_cache_lookups_total');
  assert.ok(once.includes('keywarden_cache_lookups_total{result="hit"} 7'), once.join('\n'));
  assert.ok(once.includes('keywarden_cache_lookups_total{result="miss"} 1'));
  assert.ok(once.includes('keywarden_cache_lookups_total{result="negative"} 0'));
  m.cache.hit.inc();
  const twice = await lines(m, 'keywarden_cache_lookups_total');
  assert.ok(
    twice.includes('keywarden_cache_lookups_total{result="hit"} 8'),
    'monotonic: earlier bumps are kept',
  );
  assert.ok(twice.includes('keywarden_cache_lookups_total{result="miss"} 1'), 'not counted twice');
});
