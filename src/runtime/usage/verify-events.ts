import { closeSync, fstatSync, openSync, statSync, write } from 'node:fs';
import type { VerificationEvent } from '../../core/ports.js';
import { ConfigError } from '../../config/settings.js';

/** Where a sink reports what it dropped, and its failures (never an event's content). */
export interface SinkReports {
  dropped: (n: number) => void;
  /** A write failed (the first of a streak): its error code; lines are dropped until one succeeds. */
  failed: (code: string, target: string) => void;
  /** A write succeeded again after failures; `dropped` lines were lost meanwhile. */
  recovered: (dropped: number, target: string) => void;
  /** Nothing could be written for `seconds` (a full pipe nobody reads); lines wait, then drop. */
  stalled?: (seconds: number, target: string) => void;
  /** The file was moved or removed (log rotation) and a new one was opened at its path. */
  reopened?: (target: string) => void;
}

export interface SinkOptions {
  /** Events waiting at most; past it, events are dropped and counted. */
  maxPending?: number;
  /** Bytes per write at most (whole lines; a longer line is written alone). */
  chunkBytes?: number;
  /** Close the descriptor at `close` (a file opened here; not standard output). */
  ownsFd?: boolean;
  /** How long `close` waits for a slow reader before the rest is counted as dropped. */
  closeWaitMs?: number;
  /**
   * A file's path: before a write, at most once per `reopenCheckMs` (1 s), the sink checks that
   * the path still names the file it writes, and opens the path anew when it was moved or removed.
   */
  path?: string;
  reopenCheckMs?: number;
  /** How long a full pipe lasts before `stalled` is reported (10 s). */
  stallWarnMs?: number;
}

/** A write's bytes, how far it got, its whole lines, and whether it starts by ending a cut line. */
interface Chunk {
  buf: Buffer;
  off: number;
  lines: number;
  lead: boolean;
}

/** A pipe writes up to this many bytes in one piece (POSIX PIPE_BUF on Linux). */
const PIPE_ATOMIC_BYTES = 4096;
const RETRY_FIRST_MS = 1;
const RETRY_MAX_MS = 50;
const FAILED_RETRY_MS = 1000;
const STALL_WARN_MS = 10_000;

/**
 * One JSON line per verification for operators' log pipelines (`KEYWARDEN_VERIFY_EVENTS`,
 * docs/verification-log.md). Never on the verification's path: `push` keeps the event and returns;
 * lines are built and written on later turns of the event loop, one write at a time through the
 * thread pool (`fs.write` on the descriptor).
 *
 * - A full pipe (EAGAIN: standard output shares its descriptor with the server's log stream,
 *   which makes it non-blocking) is waited out: the same bytes are written again after 1, 2, 4…
 *   up to 50 ms. Nothing is dropped for it while fewer than `maxPending` events wait.
 * - Any other failure (disk full, a closed pipe) is reported once, drops the lines of that write
 *   it did not write whole, and is retried every second with what waits: the sink recovers when
 *   the target does. A line cut by the failure is ended by a line break at the next write.
 * - On a pipe, a write carries whole lines and at most 4,096 bytes, which the kernel writes in one
 *   piece: another writer of the same pipe (the server's log) never lands inside a line.
 *
 * When more than `maxPending` events wait, events are dropped and counted. A line holds the key's
 * id and its public start, never the key.
 */
export class VerifyEventLines {
  private pending: VerificationEvent[] = [];
  private head = 0;
  /** The write in flight or waiting to be retried: its bytes, where it stands, its lines. */
  private chunk: Chunk | null = null;
  private writing = false;
  private retry: NodeJS.Timeout | null = null;
  private retryMs = RETRY_FIRST_MS;
  private scheduled = false;
  /** Lines dropped since the current failure streak began (null: not failing). */
  private failing: number | null = null;
  /** The last write stopped inside a line: the next starts with a line break. */
  private cutLine = false;
  private idle: (() => void) | null = null;
  private closed = false;
  private closing = false;
  /** Since when writes meet a full pipe (performance.now()), and whether that was reported. */
  private stalledSince: number | null = null;
  private stallReported = false;
  private readonly maxPending: number;
  private readonly chunkBytes: number;
  /** The file written (device and inode), and when its path was last checked. */
  private file: string | undefined;
  private checkedAt = 0;
  dropped = 0;
  written = 0;

  constructor(
    private fd: number,
    private readonly target: string,
    private readonly reports: SinkReports,
    private readonly opts: SinkOptions = {},
  ) {
    this.maxPending = opts.maxPending ?? 10_000;
    this.chunkBytes = opts.chunkBytes ?? 1 << 20;
    if (opts.path !== undefined) this.file = identity(fstatSync(fd));
  }

  /**
   * Log rotation: when the path no longer names the file written (renamed by logrotate's `create`,
   * or removed), lines go to a new file at the path from the next write on. Without this they
   * would go on into the renamed file, or into a deleted one that keeps its disk space.
   */
  private reopenIfMoved(): void {
    const path = this.opts.path;
    if (path === undefined) return;
    const now = Date.now();
    if (now - this.checkedAt < (this.opts.reopenCheckMs ?? 1000)) return;
    this.checkedAt = now;
    let named: string | undefined;
    try {
      named = identity(statSync(path));
    } catch {
      named = undefined;
    }
    if (named === this.file) return;
    let fd: number;
    try {
      fd = openSync(path, 'a');
    } catch {
      // Not creatable now (its directory went away): the old file goes on; checked again later.
      return;
    }
    closeSync(this.fd);
    this.fd = fd;
    this.file = identity(fstatSync(fd));
    this.reports.reopened?.(path);
  }

  /** Events waiting to be written (including the write in flight). */
  get waiting(): number {
    return this.pending.length - this.head;
  }

  push(e: VerificationEvent): void {
    if (this.closed || this.pending.length - this.head >= this.maxPending) {
      this.drop(1);
      return;
    }
    this.pending.push(e);
    if (!this.scheduled && !this.writing && this.retry === null) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.writeNext();
      });
    }
  }

  private drop(n: number): void {
    this.dropped += n;
    if (this.failing !== null) this.failing += n;
    this.reports.dropped(n);
  }

  /** The next chunk of whole lines from the events waiting (the chunk's events stay counted). */
  private nextChunk(): Chunk | null {
    const from = this.head;
    if (from >= this.pending.length) return null;
    const lead = this.cutLine;
    let text = lead ? '\n' : '';
    let bytes = text.length;
    let lines = 0;
    for (let i = from; i < this.pending.length; i++) {
      const e = this.pending[i];
      if (e === undefined) break;
      const line = eventLine(e);
      const len = Buffer.byteLength(line);
      if (lines > 0 && bytes + len > this.chunkBytes) break;
      text += line;
      bytes += len;
      lines++;
    }
    this.cutLine = false;
    return { buf: Buffer.from(text), off: 0, lines, lead };
  }

  private writeNext(): void {
    if (this.writing || this.retry !== null) return;
    if (this.chunk === null) this.chunk = this.nextChunk();
    const c = this.chunk;
    if (c === null) {
      this.settled();
      return;
    }
    if (c.off === 0) this.reopenIfMoved();
    this.writing = true;
    write(this.fd, c.buf, c.off, c.buf.length - c.off, null, (err, n) => {
      this.writing = false;
      if (err === null) c.off += n;
      const again = err !== null && (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK');
      if (this.closed) {
        // close() stopped waiting for this write: it counts its own lines, and nothing follows.
        this.give(c, null);
        return;
      }
      if (again) {
        this.stalled();
        this.later(this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
        return;
      }
      this.retryMs = RETRY_FIRST_MS;
      this.stalledSince = null;
      this.stallReported = false;
      if (err !== null) {
        this.give(c, err.code ?? 'EIO');
        // At shutdown, a failing target is not waited for (the rest is counted as dropped).
        if (this.idle !== null) this.settled();
        else this.later(FAILED_RETRY_MS);
        return;
      }
      if (c.off < c.buf.length) {
        this.writeNext();
        return;
      }
      this.give(c, null);
      this.writeNext();
    });
  }

  /**
   * Settles a chunk: the lines it wrote whole are written, the others dropped (`failed`: the error
   * that stopped it, reported once per failure streak; null: none, or the sink closed).
   */
  private give(c: Chunk, failed: string | null): void {
    const whole = c.off === c.buf.length;
    let done = c.lines;
    if (!whole) {
      // The line breaks written, less the one that ended an earlier cut line.
      done = 0;
      for (let i = 0; i < c.off; i++) if (c.buf[i] === 0x0a) done++;
      if (c.lead && c.off > 0) done--;
      // A line cut here is ended by the next write; a lead not written is still owed.
      this.cutLine = c.off > 0 ? c.buf[c.off - 1] !== 0x0a : c.lead;
    }
    this.finish(c.lines);
    this.written += done;
    if (c.lines > done) {
      if (failed !== null && this.failing === null) {
        this.failing = 0;
        this.reports.failed(failed, this.target);
      }
      this.drop(c.lines - done);
    }
    if (whole && this.failing !== null) {
      this.reports.recovered(this.failing, this.target);
      this.failing = null;
    }
  }

  /** A full pipe: reported once it lasted STALL_WARN_MS. */
  private stalled(): void {
    const now = performance.now();
    if (this.stalledSince === null) this.stalledSince = now;
    else if (!this.stallReported && now - this.stalledSince >= (this.opts.stallWarnMs ?? STALL_WARN_MS)) {
      this.stallReported = true;
      this.reports.stalled?.(Math.round((now - this.stalledSince) / 1000), this.target);
    }
  }

  /** The current chunk's events are done with (written or dropped). */
  private finish(lines: number): void {
    this.chunk = null;
    if (this.closed) return;
    this.head += lines;
    if (this.head === this.pending.length) {
      this.pending = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }

  private later(ms: number): void {
    this.retry = setTimeout(() => {
      this.retry = null;
      this.writeNext();
    }, ms);
    this.retry.unref();
  }

  private settled(): void {
    const idle = this.idle;
    this.idle = null;
    idle?.();
  }

  /**
   * Writes what waits, for at most `closeWaitMs` (a reader that stopped reading must not hold
   * shutdown), then counts the rest as dropped and closes the descriptor if it was opened here.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.waiting > 0) {
      const waitMs = this.opts.closeWaitMs ?? 2000;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.idle = () => {
          clearTimeout(timer);
          resolve();
        };
        if (this.retry !== null) {
          clearTimeout(this.retry);
          this.retry = null;
        }
        this.writeNext();
      });
    }
    this.idle = null;
    this.closed = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    // A write in flight counts its own lines when it returns (give).
    const left = this.waiting - (this.writing ? (this.chunk?.lines ?? 0) : 0);
    if (left > 0) this.drop(left);
    this.pending = [];
    this.head = 0;
    this.chunk = null;
    // A write still in flight finishes on its own; the descriptor is closed after it.
    if (this.opts.ownsFd === true) {
      const fd = this.fd;
      const closeIt = (): void => {
        if (this.writing) setTimeout(closeIt, 5).unref();
        else closeSync(fd);
      };
      closeIt();
    }
  }
}

const identity = (st: { dev: number; ino: number }): string => `${st.dev}:${st.ino}`;

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

/**
 * The sink of `KEYWARDEN_VERIFY_EVENTS` (`stdout` or `file:<path>`, appended to). A file that
 * cannot be opened for appending stops the start with the reason.
 */
export function openVerifyEvents(target: string, reports: SinkReports): VerifyEventLines {
  if (target === 'stdout') {
    const st = fstatSync(1);
    const pipe = st.isFIFO() || st.isSocket();
    return new VerifyEventLines(1, 'stdout', reports, {
      chunkBytes: pipe ? PIPE_ATOMIC_BYTES : undefined,
    });
  }
  const path = target.slice('file:'.length);
  let fd: number;
  try {
    fd = openSync(path, 'a');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'an error';
    throw new ConfigError(
      `KEYWARDEN_VERIFY_EVENTS: cannot open ${path} for appending (${code}); the directory must exist and be writable`,
    );
  }
  return new VerifyEventLines(fd, path, reports, { ownsFd: true, path });
}
