import type { Storage } from '../../../storage/db.js';
import { writeUsageBatch } from '../../../storage/usage-repo.js';
import { MinuteLog } from '../minutes.js';
import { runJob, type FlushJob, type JobResult, type UsageWriter } from './port.js';

/**
 * Writes on the calling thread (the main thread, `KEYWARDEN_USAGE_WRITER=in-process`) through the
 * server's storage: PostgreSQL (its writes are
 * asynchronous I/O already), and SQLite where no worker thread can (`:memory:`, or after the
 * worker thread died repeatedly).
 */
export class InProcessWriter implements UsageWriter {
  private readonly minutes: MinuteLog;
  constructor(
    private readonly storage: Storage,
    private readonly rowsPerTransaction: number,
    maxRowsPerMinute: number,
  ) {
    this.minutes = new MinuteLog(maxRowsPerMinute);
  }

  write(job: FlushJob): Promise<JobResult> {
    return runJob(job, (b) => writeUsageBatch(this.storage, b), this.rowsPerTransaction, this.minutes);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
