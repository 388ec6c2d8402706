import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { VerificationEvent } from '../../core/ports.js';

/**
 * One JSON line per verification for operators' log pipelines (`KEYWARDEN_VERIFY_EVENTS`,
 * docs/verification-log.md). Never on the verification's path: `push` keeps the event and returns;
 * lines are built and written on a later turn of the event loop, through an asynchronous stream
 * (a file, or standard output through the thread pool: a write to a pipe on Linux is otherwise
 * synchronous and a slow reader would stall the server). When the sink cannot keep up (more than
 * `maxPending` events wait), events are dropped and counted. A line holds the key's id and its
 * public start, never the key.
 */
export class VerifyEventLines {
  private pending: VerificationEvent[] = [];
  private scheduled = false;
  private blocked = false;
  private failed = false;
  dropped = 0;
  written = 0;

  constructor(
    private readonly out: Writable,
    private readonly onDrop: (n: number) => void,
    private readonly maxPending = 10_000,
    private readonly ownsStream = true,
  ) {
    out.on('error', () => {
      // A sink that failed (disk full, closed pipe) drops from now on; verification goes on.
      this.failed = true;
    });
  }

  push(e: VerificationEvent): void {
    if (this.failed || this.pending.length >= this.maxPending) {
      this.dropped++;
      this.onDrop(1);
      return;
    }
    this.pending.push(e);
    if (!this.scheduled && !this.blocked) {
      this.scheduled = true;
      setImmediate(() => {
        this.drain();
      });
    }
  }

  private drain(): void {
    this.scheduled = false;
    if (this.blocked || this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    let text = '';
    for (const e of events) text += eventLine(e);
    this.written += events.length;
    if (!this.out.write(text)) {
      this.blocked = true;
      this.out.once('drain', () => {
        this.blocked = false;
        this.drain();
      });
    }
  }

  /** Writes what is pending and closes the stream (a file) or lets it drain (standard output). */
  async close(): Promise<void> {
    this.blocked = false;
    this.drain();
    if (this.failed) return;
    await new Promise<void>((resolve) => {
      if (this.ownsStream) this.out.end(resolve);
      else if (this.out.writableNeedDrain) this.out.once('drain', resolve);
      else resolve();
    });
  }
}

/** One event as a JSON line (fields in a fixed order; no key material beyond its id and start). */
export function eventLine(e: VerificationEvent): string {
  return `${JSON.stringify({
    at: new Date(e.at).toISOString(),
    keyId: e.keyId,
    keyStart: e.keyStart,
    environment: e.environment,
    permissions: e.permissions,
    resource: e.resource,
    code: e.code,
    ip: e.ip,
    userAgent: e.userAgent,
    latencyUs: Math.round(e.latencyUs),
    ...(e.shadow === true ? { shadow: true } : {}),
  })}\n`;
}

/** The sink of `KEYWARDEN_VERIFY_EVENTS` (`stdout` or `file:<path>`, appended to). */
export function openVerifyEvents(target: string, onDrop: (n: number) => void): VerifyEventLines {
  if (target === 'stdout') {
    // fd 1 written through the thread pool (fs), not process.stdout: never a synchronous write.
    return new VerifyEventLines(createWriteStream('', { fd: 1, autoClose: false }), onDrop, 10_000, false);
  }
  const path = target.slice('file:'.length);
  return new VerifyEventLines(createWriteStream(path, { flags: 'a' }), onDrop);
}
