import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openStorage } from './storage/db.js';
import { DIALECTS, TEST_SECRET, redisUrl, testPgUrl, type Dialect } from './testing/harness.js';

const BIN = new URL('../bin/keywarden.js', import.meta.url).pathname;
const DIST = new URL('.', import.meta.url).pathname;

/** Runs a program and waits for it to exit by itself; one that does not is killed and reported. */
async function runToExit(
  args: string[],
  env: Record<string, string>,
  limitMs = 30_000,
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, limitMs);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  assert.ok(
    !hung,
    `the process did not exit within ${String(limitMs)} ms: something it opened stayed open\n${out}\n${err}`,
  );
  return { code, out, err };
}

/** The store a dialect runs on, in a fresh directory or schema; `drop` removes it. */
function aStore(dialect: Dialect): {
  env: Record<string, string>;
  appName: string;
  drop: () => Promise<void>;
} {
  const dir = mkdtempSync(join(tmpdir(), 'kw-start-'));
  const id = randomBytes(6).toString('hex');
  const schema = `kw_start_${id}`;
  // Named, so that the server's connections can be counted from outside.
  const appName = `kw_start_${id}`;
  const pgUrl = dialect.name === 'postgres' ? testPgUrl : undefined;
  const env: Record<string, string> = {
    KEYWARDEN_DATA_DIR: dir,
    KEYWARDEN_SECRET: TEST_SECRET,
    ...(redisUrl === undefined ? {} : { KEYWARDEN_REDIS_URL: redisUrl }),
    ...(pgUrl !== undefined
      ? {
          KEYWARDEN_DATABASE_URL: `${pgUrl}${pgUrl.includes('?') ? '&' : '?'}application_name=${appName}`,
          KEYWARDEN_DATABASE_SCHEMA: schema,
        }
      : {}),
  };
  return {
    env,
    appName,
    async drop() {
      if (pgUrl !== undefined) {
        const s = openStorage({ databaseUrl: pgUrl, dataDir: dir });
        await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(s.db);
        await s.close();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The child: a start that fails after the store, Redis, the usage writer and the event file are
// open (the invalidation bus refuses its subscription). It reports what it still holds.
const FAILED_START = `
import { readdirSync, readlinkSync } from 'node:fs';
const { createKeywarden } = await import(process.env.DIST + 'main.js');
const { loadConfig } = await import(process.env.DIST + 'config.js');
const { createLogger } = await import(process.env.DIST + 'logger.js');
const dir = process.env.KEYWARDEN_DATA_DIR;
const config = loadConfig({ ...process.env, KEYWARDEN_VERIFY_EVENTS: 'file:' + dir + '/events.log' });
let busClosed = false;
const bus = {
  connected: true,
  publish: async () => undefined,
  subscribe: async () => { throw new Error('the bus refused the subscription'); },
  close: async () => { busClosed = true; },
};
let threw = null;
try {
  await createKeywarden(config, { logger: createLogger('silent'), bus });
} catch (err) {
  threw = err.message;
}
const held = readdirSync('/proc/self/fd')
  .map((fd) => { try { return readlinkSync('/proc/self/fd/' + fd); } catch { return ''; } })
  .filter((path) => path.startsWith(dir));
let pgConnections = null;
if (config.databaseUrl !== undefined) {
  const pg = (await import('pg')).default;
  const c = new pg.Client({ connectionString: process.env.KEYWARDEN_TEST_DATABASE_URL });
  await c.connect();
  const r = await c.query('select count(*)::int as n from pg_stat_activity where application_name = $1', [process.env.APP_NAME]);
  pgConnections = r.rows[0].n;
  await c.end();
}
console.log(JSON.stringify({ threw, busClosed, held, pgConnections }));
`;

for (const dialect of DIALECTS) {
  test(`a start that fails half-way closes what it opened, and the process exits by itself (${dialect.name})`, async () => {
    const store = aStore(dialect);
    try {
      const { code, out, err } = await runToExit(['--input-type=module', '-e', FAILED_START], {
        ...store.env,
        DIST,
        APP_NAME: store.appName,
      });
      assert.equal(code, 0, err);
      const seen = JSON.parse(out.trim()) as {
        threw: string | null;
        busClosed: boolean;
        held: string[];
        pgConnections: number | null;
      };
      // The start's own error, not one from closing.
      assert.equal(seen.threw, 'the bus refused the subscription');
      assert.equal(seen.busClosed, true);
      // Neither the store's files (SQLite: database, WAL, shared memory; also the usage writer
      // thread's connection) nor the event file stay open.
      assert.deepEqual(seen.held, []);
      assert.equal(seen.pgConnections, dialect.name === 'postgres' ? 0 : null);
    } finally {
      await store.drop();
    }
  });

  test(`serve on a port in use says so, exits 2 and leaves nothing running (${dialect.name})`, async () => {
    const store = aStore(dialect);
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const env = { ...store.env, KEYWARDEN_PORT: String(port), KEYWARDEN_HOST: '127.0.0.1' };
      const { code, err } = await runToExit([BIN, 'serve'], env);
      assert.equal(code, 2, err);
      assert.match(
        err,
        new RegExp(
          `^error: cannot listen on 127\\.0\\.0\\.1:${String(port)}: the address is in use .*KEYWARDEN_PORT`,
          'm',
        ),
      );
      assert.doesNotMatch(err, /INTERNAL|EADDRINUSE: address already in use/);
      // The store it created is whole: the next start on a free port serves it.
      taken.close();
      await new Promise<void>((resolve) => taken.once('close', resolve));
      const again = spawn(process.execPath, [BIN, 'serve'], {
        env: { ...process.env, ...env, KEYWARDEN_PORT: '0', KEYWARDEN_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let log = '';
      again.stdout.on('data', (d: Buffer) => (log += d.toString()));
      const exited = new Promise<number | null>((resolve) => again.on('exit', resolve));
      try {
        const deadline = Date.now() + 30_000;
        while (!/listening at (http:\/\/[0-9.:]+)/.test(log)) {
          if (Date.now() > deadline) throw new Error(`the second start did not listen:\n${log}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        const url = /listening at (http:\/\/[0-9.:]+)/.exec(log)?.[1] ?? '';
        assert.equal((await fetch(`${url}/healthz`)).status, 200);
        // Initialised by the first start: the root key is not printed twice.
        assert.doesNotMatch(log, /Root admin key/);
      } finally {
        again.kill('SIGTERM');
        assert.equal(await exited, 0, log);
      }
    } finally {
      taken.close();
      await store.drop();
    }
  });
}
