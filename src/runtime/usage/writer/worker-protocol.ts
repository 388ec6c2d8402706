/**
 * What the server (worker-thread.ts) and the usage writer's thread (worker-entry.ts) say to each
 * other, and the progress marker the thread commits with each transaction so a job survives the
 * thread's death. Imports no storage driver: the thread loads this file.
 */
import type { FlushJob, JobProgress } from './port.js';
import type { Refused } from './refusals.js';

/** The worker thread (worker-entry.ts) writes its progress here, in each transaction. */
export const PROGRESS_MARKER = 'usage_writer_progress';
export const formatProgress = (token: string, p: JobProgress): string =>
  `${token} ${p.extras ? 1 : 0} ${p.events}`;
/** What the marker says was committed of the job `token` (nothing if it is about another job). */
export function parseProgress(marker: string | undefined, token: string): JobProgress {
  const [t, extras, events] = (marker ?? '').split(' ');
  return t === token ? { extras: extras === '1', events: Number(events) || 0 } : { extras: false, events: 0 };
}

export interface WorkerOptions {
  file: string;
  /** `Storage.writeTurns` (shared memory). */
  writeTurns: Int32Array | null;
  rowsPerTransaction: number;
  /** `KEYWARDEN_LOG_MAX_ROWS_PER_MINUTE` (see MinuteLog). */
  maxRowsPerMinute: number;
}
export type ToWorker = { type: 'job'; job: FlushJob } | { type: 'close' };
export interface WorkerDone extends JobProgress {
  type: 'done';
  token: string;
  overflowed: number;
  refused: Refused | null;
  error: { message: string; code: string | undefined } | null;
}
