import type { Logger } from 'pino';
import type { Storage } from '../../../storage/db.js';
import type { Metrics } from '../../metrics.js';
import { InProcessWriter } from './in-process.js';
import type { UsageWriter } from './port.js';
import { WorkerWriter, type WorkerWriterOptions } from './worker-thread.js';

/**
 * The writer for a storage: a worker thread for a SQLite file, unless `inProcess` (configuration,
 * `KEYWARDEN_USAGE_WRITER=in-process`);
 * on the calling thread for PostgreSQL and `:memory:`.
 */
export function createUsageWriter(
  storage: Storage,
  metrics: Metrics,
  log: Logger,
  opts: WorkerWriterOptions & { inProcess?: boolean },
): UsageWriter {
  const raw = storage.sqlite;
  if (raw === undefined || raw.memory || opts.inProcess === true) {
    return new InProcessWriter(storage, opts.rowsPerTransaction, opts.maxRowsPerMinute);
  }
  return new WorkerWriter(storage, raw.name, metrics, log, opts);
}
