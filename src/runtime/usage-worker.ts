import type { Logger } from 'pino';
import type { Storage } from '../storage/db.js';
import { writeUsageBatch } from '../storage/usage-repo.js';
import type { Metrics } from './metrics.js';
import { runJob, type FlushJob, type JobResult, type UsageWriter } from './usage-writer.js';

/**
 * Writes on the calling thread through the server's storage.
 */
export class ThreadWriter implements UsageWriter {
  constructor(
    private readonly storage: Storage,
    private readonly rowsPerTransaction: number,
  ) {}

  write(job: FlushJob): Promise<JobResult> {
    return runJob(job, (b) => writeUsageBatch(this.storage, b), this.rowsPerTransaction);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The writer for a storage. */
export function createUsageWriter(
  storage: Storage,
  _metrics: Metrics,
  _log: Logger,
  opts: { rowsPerTransaction: number },
): UsageWriter {
  return new ThreadWriter(storage, opts.rowsPerTransaction);
}
