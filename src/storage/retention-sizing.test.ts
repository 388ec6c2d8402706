import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  RETENTION_BATCH_MAX,
  RETENTION_BATCH_TARGET_MS,
  nextRetentionBatch,
  type RetentionSizing,
} from './usage-repo.js';

test('retention batches grow at most twofold, shrink at once, and a fast batch after a slow one does not undo it', () => {
  const max = RETENTION_BATCH_MAX;
  // Very fast batches: the size doubles per batch up to the row bound, never jumps.
  let s: RetentionSizing = { size: 1000 };
  const sizes: number[] = [];
  for (let i = 0; i < 6; i++) {
    s = nextRetentionBatch(s, s.size, s.size * 0.0001, max);
    sizes.push(s.size);
  }
  assert.deepEqual(sizes, [2000, 4000, 8000, 10_000, 10_000, 10_000]);
  // A slow batch (a checkpoint in its commit): the next is sized for under the target time at once.
  s = nextRetentionBatch(s, 10_000, 200, max);
  assert.ok(s.size * (200 / 10_000) <= RETENTION_BATCH_TARGET_MS, `size ${s.size}`);
  const afterSlow = s.size;
  // One fast batch after it counts by halves: the size grows, but stays within twice.
  s = nextRetentionBatch(s, s.size, s.size * 0.001, max);
  assert.ok(s.size > afterSlow && s.size <= afterSlow * 2, `${afterSlow} → ${s.size}`);
  // Never below 100 rows, whatever a batch took; an instant batch grows by the same rule.
  assert.equal(nextRetentionBatch({ size: 100 }, 100, 10_000, max).size, 100);
  assert.equal(nextRetentionBatch({ size: 300 }, 300, 0, max).size, 600);
  assert.equal(nextRetentionBatch({ size: 300 }, 300, 0, 500).size, 500);
});
