import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../../config.js';
import type { Storage } from '../../../storage/db.js';
import { Metrics } from '../../metrics.js';
import { createUsageWriter } from './create.js';
import { InProcessWriter } from './in-process.js';
import { WorkerWriter } from './worker-thread.js';

test('the writer of a storage: a thread for a SQLite file only', () => {
  const metrics = new Metrics({ defaultMetrics: false });
  const log = pino({ level: 'silent' });
  const opts = { rowsPerTransaction: 1000, maxRowsPerMinute: 1000 };
  const storage = (sqlite: { memory: boolean } | undefined): Storage =>
    ({ sqlite: sqlite === undefined ? undefined : { ...sqlite, name: 'x.db' } }) as unknown as Storage;
  assert.ok(
    createUsageWriter(storage(undefined), metrics, log, opts) instanceof InProcessWriter,
    'PostgreSQL',
  );
  assert.ok(
    createUsageWriter(storage({ memory: true }), metrics, log, opts) instanceof InProcessWriter,
    ':memory:',
  );
  assert.ok(createUsageWriter(storage({ memory: false }), metrics, log, opts) instanceof WorkerWriter);
  assert.ok(
    createUsageWriter(storage({ memory: false }), metrics, log, { ...opts, inProcess: true }) instanceof
      InProcessWriter,
    'KEYWARDEN_USAGE_WRITER=in-process',
  );
});

test('KEYWARDEN_USAGE_WRITER: worker by default, in-process, and thread as the old name of in-process', () => {
  assert.equal(loadConfig({}).usageWriter, 'worker');
  assert.equal(loadConfig({ KEYWARDEN_USAGE_WRITER: 'worker' }).usageWriter, 'worker');
  assert.equal(loadConfig({ KEYWARDEN_USAGE_WRITER: 'in-process' }).usageWriter, 'in-process');
  assert.equal(loadConfig({ KEYWARDEN_USAGE_WRITER: 'thread' }).usageWriter, 'in-process');
  assert.throws(
    () => loadConfig({ KEYWARDEN_USAGE_WRITER: 'main' }),
    /KEYWARDEN_USAGE_WRITER must be "worker" or "in-process".*got "main"/,
  );
});
