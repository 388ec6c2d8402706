import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { openStorage } from '../storage/db.js';
import { TEST_SECRET, redisUrl, testPgUrl } from './harness.js';

const BIN = new URL('../../bin/keywarden.js', import.meta.url).pathname;

/** A real `keywarden serve` process on a free port. */
export interface Node {
  url: string;
  proc: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startNode(env: Record<string, string>): Promise<Node> {
  const proc = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      ...process.env,
      KEYWARDEN_PORT: '0',
      KEYWARDEN_LOG_LEVEL: 'info',
      // Nodes sharing PostgreSQL need the same server secret.
      KEYWARDEN_SECRET: TEST_SECRET,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      resolve(code);
    }),
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = /listening at (http:\/\/[0-9.:]+)/.exec(out);
    if (m?.[1] !== undefined) {
      return {
        url: m[1],
        proc,
        output: () => out,
        async stop(signal: NodeJS.Signals = 'SIGTERM') {
          if (proc.exitCode === null) proc.kill(signal);
          return exited;
        },
      };
    }
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`node did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export async function api(
  url: string,
  adminKey: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${adminKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** Polls until `check` is true; returns the milliseconds it took, or throws after `limitMs`. */
export async function within(limitMs: number, check: () => boolean | Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await check()) return performance.now() - t0;
    if (performance.now() - t0 > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Real nodes sharing a fresh PostgreSQL schema and a Redis prefix; the first one initialised the store. */
export interface Cluster {
  nodes: Node[];
  /** The root admin key the first node printed. */
  root: string;
  /** Stops every node and drops the schema. */
  close(): Promise<void>;
}

export async function startCluster(schemaPrefix: string, count: number): Promise<Cluster> {
  const schema = uniqueName(schemaPrefix);
  const env = {
    KEYWARDEN_DATABASE_URL: testPgUrl ?? '',
    KEYWARDEN_DATABASE_SCHEMA: schema,
    KEYWARDEN_REDIS_URL: redisUrl ?? '',
    KEYWARDEN_REDIS_PREFIX: `${uniqueName('kwt')}:`,
  };
  const first = await startNode(env);
  const nodes = [first];
  const close = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
    const s = openStorage({ databaseUrl: testPgUrl, dataDir: '/tmp' });
    await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(s.db);
    await s.close();
  };
  const root = /(kw_adm_[0-9A-Za-z]+)/.exec(first.output())?.[1] ?? '';
  if (root === '') {
    await close();
    throw new Error(`the first node did not print the root key:\n${first.output()}`);
  }
  nodes.push(...(await Promise.all(Array.from({ length: count - 1 }, () => startNode(env)))));
  return { nodes, root, close };
}
