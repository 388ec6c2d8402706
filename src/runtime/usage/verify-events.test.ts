import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../config/settings.js';
import type { VerificationEvent } from '../../core/ports.js';
import { VerifyEventLines, openVerifyEvents, type SinkReports } from './verify-events.js';

// Self-contained (no fixture shared with events.test.ts): the child process test below sends this
// function's source into a script of its own.
const ev = (i: number): VerificationEvent => ({
  at: Date.parse('2026-06-01T10:00:00.000Z') + i,
  keyId: `key_${i}`,
  keyStart: 'kw_prod_4fTq',
  environment: 'production',
  permissions: ['agents:invoke'],
  resource: null,
  code: 'VALID',
  ip: '203.0.113.7',
  // Long enough that 3,000 lines are several times a pipe's 64 KiB.
  userAgent: `crm-bot/1.0 (${'x'.repeat(120)})`,
  latencyUs: 40,
});

/** What a sink reported, as the server's metric and warnings would see it. */
function recorder(): SinkReports & { drops: number; failures: string[]; recoveries: number[] } {
  const r = {
    drops: 0,
    failures: [] as string[],
    recoveries: [] as number[],
    dropped: (n: number) => {
      r.drops += n;
    },
    failed: (code: string) => {
      r.failures.push(code);
    },
    recovered: (n: number) => {
      r.recoveries.push(n);
    },
  };
  return r;
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'kw-verify-events-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A named pipe with a non-blocking reader (what a log shipper reading the server's output is). */
function fifo(name: string): { path: string; reader: number; read: () => string } {
  const path = join(dir, name);
  const made = spawnSync('mkfifo', [path]);
  assert.equal(made.status, 0, `mkfifo: ${String(made.stderr)}`);
  const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(1 << 16);
  const read = (): string => {
    let text = '';
    for (;;) {
      let n: number;
      try {
        n = readSync(reader, buf, 0, buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return text;
        throw err;
      }
      if (n === 0) return text;
      text += buf.toString('utf8', 0, n);
    }
  };
  return { path, reader, read };
}

const writerOf = (path: string): number => openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);

const parseLines = (text: string): Record<string, unknown>[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('verification event lines: the sink (KEYWARDEN_VERIFY_EVENTS)', () => {
  test('a full pipe is waited out: nothing dropped, every line whole, and the sink goes on', async () => {
    const p = fifo('full');
    const fd = writerOf(p.path);
    const r = recorder();
    const sink = new VerifyEventLines(fd, 'fifo', r, { chunkBytes: 4096 });
    try {
      for (let i = 0; i < 3000; i++) sink.push(ev(i));
      // Nobody reads for a while: the pipe fills (EAGAIN) and the sink retries.
      await sleep(300);
      assert.ok(sink.written < 3000, `the pipe took only part of it (${sink.written} written)`);
      let text = '';
      await until('3,000 lines', () => {
        text += p.read();
        return sink.written === 3000;
      });
      text += p.read();
      // After the reader caught up, the sink still writes.
      for (let i = 3000; i < 3050; i++) sink.push(ev(i));
      await until('3,050 lines', () => sink.written === 3050);
      text += p.read();
      const lines = parseLines(text);
      assert.equal(lines.length, 3050);
      assert.deepEqual(
        lines.map((l) => l.keyId),
        Array.from({ length: 3050 }, (_, i) => `key_${i}`),
      );
      assert.equal(r.drops, 0);
      assert.deepEqual(r.failures, []);
    } finally {
      await sink.close();
      closeSync(fd);
      closeSync(p.reader);
    }
  });

  test('standard output of a server whose log shares it: lines whole, none dropped for a slow reader', async () => {
    // A child process writes log lines through process.stdout (as the server's logger does, which
    // leaves descriptor 1 non-blocking) and event lines through the sink, into a pipe this test
    // does not read for a second.
    const sinkModule = join(fileURLToPath(new URL('.', import.meta.url)), 'verify-events.js');
    const script = `
      const { openVerifyEvents } = await import(${JSON.stringify(sinkModule)});
      const stats = { drops: 0, failures: [] };
      const sink = openVerifyEvents('stdout', {
        dropped: (n) => { stats.drops += n; },
        failed: (code) => { stats.failures.push(code); },
        recovered: () => {},
      });
      const ev = ${ev.toString()};
      for (let i = 0; i < 3000; i++) sink.push(ev(i));
      // The log writes while the sink does, so that its lines meet the sink's writes in the pipe.
      let logged = 0;
      while (sink.written + sink.dropped < 3000) {
        process.stdout.write('{"level":30,"msg":"a log line ' + logged++ + '"}\\n');
        await new Promise((r) => setTimeout(r, 1));
      }
      await sink.close();
      process.stderr.write(JSON.stringify({ ...stats, written: sink.written, logged }));
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await sleep(1000);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, err);
    const { logged, ...stats } = JSON.parse(err) as { logged: number; drops: number; failures: string[] };
    assert.deepEqual(stats, { drops: 0, failures: [], written: 3000 });
    assert.ok(logged > 10, `${logged} log lines written meanwhile`);
    const lines = parseLines(out);
    const events = lines.filter((l) => 'keyId' in l);
    assert.equal(events.length, 3000);
    assert.equal(lines.length - events.length, logged, 'the log lines are all there, whole');
  });

  test('a failing target is reported once, its lines dropped and counted, and the sink recovers', async () => {
    const p = fifo('gone');
    const fd = writerOf(p.path);
    const r = recorder();
    const sink = new VerifyEventLines(fd, 'fifo', r);
    let reader2: number | undefined;
    try {
      sink.push(ev(0));
      await until('the first line', () => sink.written === 1);
      assert.equal(parseLines(p.read()).length, 1);
      // The reader goes away: writes fail with EPIPE (the process ignores SIGPIPE).
      closeSync(p.reader);
      for (let i = 1; i <= 20; i++) sink.push(ev(i));
      await until('the drop', () => r.drops === 20);
      assert.deepEqual(r.failures, ['EPIPE']);
      for (let i = 21; i <= 25; i++) sink.push(ev(i));
      // A reader is back: the next retry (at most a second later) writes what waits.
      reader2 = openSync(p.path, constants.O_RDONLY | constants.O_NONBLOCK);
      await until('the recovery', () => sink.written === 6, 5000);
      assert.deepEqual(r.failures, ['EPIPE'], 'reported once per failure streak');
      assert.deepEqual(r.recoveries, [20]);
      const buf = Buffer.alloc(1 << 16);
      const n = readSync(reader2, buf, 0, buf.length, null);
      assert.deepEqual(
        parseLines(buf.toString('utf8', 0, n)).map((l) => l.keyId),
        ['key_21', 'key_22', 'key_23', 'key_24', 'key_25'],
      );
      assert.equal(sink.dropped, 20);
    } finally {
      await sink.close();
      closeSync(fd);
      if (reader2 !== undefined) closeSync(reader2);
    }
  });

  test('a write cut inside a line by a failure: the lines written count as written, and the next line starts on a line of its own', async () => {
    const p = fifo('cut');
    const fd = writerOf(p.path);
    const r = recorder();
    const stalls: number[] = [];
    // One chunk far larger than the pipe: the kernel takes ~64 KiB of it (inside a line), then EAGAIN.
    const sink = new VerifyEventLines(
      fd,
      'fifo',
      { ...r, stalled: (s) => stalls.push(s) },
      { stallWarnMs: 200 },
    );
    let reader2: number | undefined;
    try {
      for (let i = 0; i < 2000; i++) sink.push(ev(i));
      await sleep(400);
      assert.equal(stalls.length, 1, 'a pipe full for longer than stallWarnMs is reported, once');
      // The reader goes away: the retry fails (EPIPE) with the chunk cut inside a line.
      closeSync(p.reader);
      await until('the drop', () => sink.dropped > 0);
      const writtenAtCut = sink.written;
      assert.ok(writtenAtCut > 100 && writtenAtCut < 2000, `${writtenAtCut} lines were in the pipe whole`);
      assert.equal(sink.written + sink.dropped, 2000, 'each line counted once, written or dropped');
      // A second failure with nothing written still owes the line break.
      sink.push(ev(2000));
      await until('the second drop', () => sink.dropped === 2000 - writtenAtCut + 1, 3000);
      reader2 = openSync(p.path, constants.O_RDONLY | constants.O_NONBLOCK);
      const r2 = reader2;
      const buf = Buffer.alloc(1 << 18);
      let text = '';
      // What the pipe still holds of the cut write is read as it comes (the pipe may be full).
      const drain = (): void => {
        for (;;) {
          let n = 0;
          try {
            n = readSync(r2, buf, 0, buf.length, null);
          } catch {
            return;
          }
          if (n === 0) return;
          text += buf.toString('utf8', 0, n);
        }
      };
      sink.push(ev(2001));
      await until(
        'the recovery',
        () => {
          drain();
          return sink.written === writtenAtCut + 1;
        },
        3000,
      );
      drain();
      // Whatever of the cut write is still in the pipe, the recovered line is whole, on its own line.
      const lines = text.split('\n').filter((l) => l !== '');
      const last = JSON.parse(lines[lines.length - 1] ?? '{}') as Record<string, unknown>;
      assert.equal(last.keyId, 'key_2001');
      assert.ok(text.endsWith(`\n${JSON.stringify(last)}\n`), 'on a line of its own');
      const unparsable = lines.filter((l) => {
        try {
          JSON.parse(l);
          return false;
        } catch {
          return true;
        }
      });
      assert.ok(unparsable.length <= 1, `only the cut line is partial (${unparsable.length})`);
    } finally {
      await sink.close();
      closeSync(fd);
      if (reader2 !== undefined) closeSync(reader2);
    }
  });

  test('close closes a file the sink opened, once', async () => {
    const path = join(dir, 'closed.jsonl');
    const open = (): number =>
      readdirSync('/proc/self/fd').filter((f) => {
        try {
          return readlinkSync(`/proc/self/fd/${f}`) === path;
        } catch {
          return false;
        }
      }).length;
    const sink = openVerifyEvents(`file:${path}`, recorder());
    sink.push(ev(0));
    assert.equal(open(), 1);
    await sink.close();
    await sink.close();
    await until('the descriptor closed', () => open() === 0);
    assert.deepEqual(
      parseLines(readFileSync(path, 'utf8')).map((l) => l.keyId),
      ['key_0'],
    );
  });

  test('a full disk (/dev/full): dropped and counted, never thrown into verification', async () => {
    const fd = openSync('/dev/full', 'w');
    const r = recorder();
    const sink = new VerifyEventLines(fd, '/dev/full', r);
    for (let i = 0; i < 10; i++) sink.push(ev(i));
    await until('the drop', () => r.drops === 10);
    assert.deepEqual(r.failures, ['ENOSPC']);
    assert.equal(sink.written, 0);
    await sink.close();
    closeSync(fd);
  });

  test('a reader that never reads does not hold shutdown: close waits a bounded time, then counts the rest', async () => {
    const p = fifo('stuck');
    const fd = writerOf(p.path);
    const r = recorder();
    const sink = new VerifyEventLines(fd, 'fifo', r, { closeWaitMs: 300 });
    for (let i = 0; i < 3000; i++) sink.push(ev(i));
    const started = Date.now();
    await sink.close();
    const took = Date.now() - started;
    assert.ok(took < 3000, `close took ${took} ms`);
    assert.ok(r.drops > 0 && sink.written + sink.dropped === 3000, `${sink.written} + ${sink.dropped}`);
    sink.push(ev(3000));
    assert.equal(sink.written + sink.dropped, 3001, 'a push after close is counted as dropped');
    closeSync(fd);
    closeSync(p.reader);
  });

  test('more waiting than the bound: the excess is dropped and counted at once', async () => {
    const p = fifo('bound');
    const fd = writerOf(p.path);
    const r = recorder();
    const sink = new VerifyEventLines(fd, 'fifo', r, { maxPending: 100, closeWaitMs: 100 });
    for (let i = 0; i < 150; i++) sink.push(ev(i));
    assert.equal(r.drops, 50);
    await sink.close();
    closeSync(fd);
    closeSync(p.reader);
  });

  test('a rotated file (renamed, or removed) is followed by a new one at its path', async () => {
    const path = join(dir, 'rotated.jsonl');
    const r = recorder();
    const reopened: string[] = [];
    const sink = openVerifyEvents(`file:${path}`, { ...r, reopened: (p) => reopened.push(p) });
    const keysIn = (p: string): unknown[] => parseLines(readFileSync(p, 'utf8')).map((l) => l.keyId);
    try {
      sink.push(ev(0));
      await until('line 0', () => sink.written === 1);
      // logrotate's `create`: the file is renamed; the next write after the check goes to a new one.
      renameSync(path, `${path}.1`);
      await sleep(1100);
      sink.push(ev(1));
      await until('line 1', () => sink.written === 2);
      assert.deepEqual(keysIn(`${path}.1`), ['key_0']);
      assert.deepEqual(keysIn(path), ['key_1']);
      // Removed (rotated away): a new file again, not a deleted inode holding disk space.
      unlinkSync(path);
      await sleep(1100);
      sink.push(ev(2));
      await until('line 2', () => sink.written === 3);
      assert.ok(existsSync(path));
      assert.deepEqual(keysIn(path), ['key_2']);
      // Unmoved, the file is kept: no reopen per write.
      await sleep(1100);
      sink.push(ev(3));
      await until('line 3', () => sink.written === 4);
      assert.deepEqual(keysIn(path), ['key_2', 'key_3']);
      assert.deepEqual(reopened, [path, path]);
      assert.equal(r.drops, 0);
    } finally {
      await sink.close();
    }
  });

  test('a file that cannot be opened stops the start with the reason', () => {
    assert.throws(
      () => openVerifyEvents(`file:${join(dir, 'missing', 'events.jsonl')}`, recorder()),
      (err: unknown) =>
        err instanceof ConfigError &&
        /KEYWARDEN_VERIFY_EVENTS: cannot open .*missing\/events\.jsonl for appending \(ENOENT\)/.test(
          err.message,
        ),
    );
  });
});
