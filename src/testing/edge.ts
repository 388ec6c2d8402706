import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { TestServer } from './harness.js';

/** Listens on a free loopback port and returns the port (the harness calls in process). */
export async function listen(t: TestServer): Promise<number> {
  await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = t.kw.app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

export interface WireReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request over a real socket (no keep-alive), optionally from another loopback address. */
export function wire(
  port: number,
  method: string,
  path: string,
  opts: { body?: string | Buffer; headers?: Record<string, string>; from?: string } = {},
): Promise<WireReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: { connection: 'close', ...opts.headers },
        agent: false,
        ...(opts.from !== undefined ? { localAddress: opts.from } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    // A request nobody answers fails its test instead of hanging the run.
    req.setTimeout(15_000, () => {
      req.destroy(new Error(`${method} ${path}: no answer within 15 s`));
    });
    req.end(opts.body);
  });
}

/**
 * Asserts the event loop stayed responsive during `attack`: the worst /healthz latency (probed
 * from another loopback address, so per-address limits do not apply) is at most 100 ms more than
 * the worst of a quiet window of probes just before. The quiet window absorbs what a loaded
 * machine adds (descheduling, GC); a request that holds the loop adds its whole stall on top, on
 * every try. A shared test machine can still deschedule the process during one window, so the
 * measurement is taken up to three times and fails only when every try exceeds the bound (an
 * attack that stalls the loop does so each time; `attack` must be repeatable).
 */
export async function assertResponsiveDuring(port: number, attack: () => Promise<void>): Promise<void> {
  const seen: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const quiet = await healthzWorstMsDuring(port, () => new Promise((resolve) => setTimeout(resolve, 1000)));
    const worst = await healthzWorstMsDuring(port, attack);
    if (worst <= quiet + 100) return;
    seen.push(`${worst.toFixed(0)} ms during the attack (${quiet.toFixed(0)} ms when quiet)`);
  }
  throw new Error(`/healthz stalled on every try: ${seen.join('; ')}`);
}

/** The worst /healthz latency in ms while `attack` runs. */
export async function healthzWorstMsDuring(port: number, attack: () => Promise<void>): Promise<number> {
  let worst = 0;
  let running = true;
  const probe = (async () => {
    while (running) {
      const t0 = performance.now();
      const r = await wire(port, 'GET', '/healthz', { from: '127.0.0.2' });
      if (r.status !== 200) throw new Error(`/healthz answered ${r.status}`);
      worst = Math.max(worst, performance.now() - t0);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  try {
    await attack();
  } finally {
    running = false;
    await probe;
  }
  return worst;
}

/** A raw socket that has connected; data it receives is collected in `received()`. */
export async function rawSocket(
  port: number,
  from?: string,
): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port, ...(from !== undefined ? { localAddress: from } : {}) });
  let data = '';
  socket.on('data', (c: Buffer) => {
    data += c.toString();
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => {
    socket.once('close', () => {
      resolve();
    });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => data, closed };
}

/** The JSON body of a raw HTTP answer (after the blank line). */
export function bodyOf(raw: string): Record<string, unknown> {
  const at = raw.indexOf('\r\n\r\n');
  return JSON.parse(at < 0 ? raw : raw.slice(at + 4)) as Record<string, unknown>;
}
