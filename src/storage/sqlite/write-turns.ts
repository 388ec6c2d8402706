/**
 * Turns at SQLite's write lock between the server's connection and the usage writer's worker
 * thread (runtime/usage/writer/worker-entry.ts), in two cells of shared memory: [0] the server writes or
 * holds a transaction open, [1] the worker is in a transaction.
 *
 * Without them the server's connection would wait in SQLite's busy handler, which holds the event
 * loop (better-sqlite3 is synchronous) and has no queue: it sleeps 1, 2, 5, 10, … ms and tries
 * again, so behind a worker committing transaction after transaction it could wait for a whole
 * flush. With them the server waits, asynchronously, for the end of the one transaction the worker
 * is in, and the worker starts no other until the server is done: the server goes first, and the
 * event loop keeps answering verifications meanwhile.
 *
 * Each side raises its own cell and then checks the other's; Atomics are sequentially consistent,
 * so at least one of them sees the other, and the worker is the one that backs off.
 * Measurements and guarding tests: docs/hot-path.md#usage-writes-on-a-worker-thread.
 */
const SERVER = 0;
const WORKER = 1;

export const newWriteTurns = (): Int32Array => new Int32Array(new SharedArrayBuffer(8));

/** Waits while `cell` is 1, at most until `deadline`; false when the deadline passed. */
function waitWhileSet(turns: Int32Array, cell: number, deadline: number): boolean {
  while (Atomics.load(turns, cell) === 1) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    Atomics.wait(turns, cell, 1, left);
  }
  return true;
}

function lower(turns: Int32Array, cell: number): void {
  Atomics.store(turns, cell, 0);
  Atomics.notify(turns, cell);
}

// Atomics.waitAsync (Node ≥ 16) is in TypeScript's ES2024 library, not the ES2023 one this project targets.
type WaitAsync = (
  typedArray: Int32Array,
  index: number,
  value: number,
  timeout: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** The server is about to write: resolves when the worker is between transactions (or after `timeoutMs`). */
export async function serverWrites(turns: Int32Array, timeoutMs: number): Promise<void> {
  Atomics.store(turns, SERVER, 1);
  const deadline = Date.now() + timeoutMs;
  while (Atomics.load(turns, WORKER) === 1) {
    const left = deadline - Date.now();
    if (left <= 0) return;
    const r = waitAsync(turns, WORKER, 1, left);
    if (r.async) await r.value;
  }
}

export const serverDone = (turns: Int32Array): void => {
  lower(turns, SERVER);
};

/**
 * The worker is about to begin a transaction: returns when the server neither writes nor holds a
 * transaction. After `timeoutMs` it goes ahead (SQLite's busy timeout still applies).
 */
export function workerBegins(turns: Int32Array, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const clear = waitWhileSet(turns, SERVER, deadline);
    Atomics.store(turns, WORKER, 1);
    if (!clear || Atomics.load(turns, SERVER) === 0) return;
    // The server began a write meanwhile: it goes first.
    lower(turns, WORKER);
  }
}

/** The worker's transaction ended (or its thread died in one). */
export const workerDone = (turns: Int32Array): void => {
  lower(turns, WORKER);
};
