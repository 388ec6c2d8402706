import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { after, before, describe } from 'node:test';
import { sql } from 'kysely';
import { pino } from 'pino';
import { loadConfig, type Config } from '../config.js';
import type { Clock } from '../core/ports.js';
import { REDACT_PATHS } from '../logger.js';
import { createKeywarden, type CreateOptions, type Keywarden } from '../main.js';
import { openStorage, type Storage } from '../storage/db.js';

/**
 * Test support shared by the suites: every storage-touching suite loops over DIALECTS, so it runs
 * on SQLite and (when KEYWARDEN_TEST_DATABASE_URL is set; always under CI) on PostgreSQL.
 */
export interface Dialect {
  name: 'sqlite' | 'postgres';
}

const pgUrl = process.env.KEYWARDEN_TEST_DATABASE_URL;
if (process.env.CI === 'true' && (pgUrl === undefined || pgUrl === '')) {
  throw new Error('CI=true but KEYWARDEN_TEST_DATABASE_URL is not set: the PostgreSQL suites must run in CI');
}
export const redisUrl = process.env.KEYWARDEN_TEST_REDIS_URL || undefined;
if (process.env.CI === 'true' && redisUrl === undefined) {
  throw new Error('CI=true but KEYWARDEN_TEST_REDIS_URL is not set: the Redis suites must run in CI');
}
export const testPgUrl = pgUrl || undefined;

/** The server secret test servers and nodes run with (never a real deployment's). */
export const TEST_SECRET = 'test-secret-for-keywarden-suites-only-0123456789';

export const DIALECTS: Dialect[] = [{ name: 'sqlite' }, ...(pgUrl ? [{ name: 'postgres' as const }] : [])];

export class ManualClock implements Clock {
  constructor(public ms = Date.parse('2026-06-01T00:00:00.000Z')) {}
  now(): number {
    return this.ms;
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export interface TestServer {
  kw: Keywarden;
  root: string;
  config: Config;
  /** Everything the server logged, as text (for secret-leak checks). */
  logs: () => string;
  /** A second connection to the server's database (SQLite file or PostgreSQL schema); close it after use. */
  openStorage(): Storage;
  /** The PostgreSQL schema the server runs in (undefined on SQLite): a second node may share it. */
  schema?: string | undefined;
  close(): Promise<void>;
}

/** A fresh, initialised Keywarden on its own SQLite dir or PostgreSQL schema. */
/** What startServer takes besides the dialect. */
export type ServerOptions = Omit<CreateOptions, 'logger' | 'schema'> & {
  clock?: Clock;
  env?: Record<string, string>;
};

/**
 * One `describe` per dialect with a server started before its tests and closed after them: the
 * preamble the HTTP suites share. `body` runs once per dialect, receives the server (usable from
 * inside the tests, once `before` has run) and may return startServer's options (e.g. the clock
 * it declared). `suite` takes node:test's suite options (a longer timeout).
 */
export function describeEachDialect(
  title: string,
  // A body with nothing to configure returns nothing.
  // eslint-disable-next-line @typescript-eslint/no-invalid-void-type
  body: (t: TestServer, dialect: Dialect) => ServerOptions | void,
  suite: { timeout?: number } = {},
): void {
  for (const dialect of DIALECTS) {
    describe(`${title} (${dialect.name})`, suite, () => {
      let real: TestServer | undefined;
      const started = (): TestServer => {
        if (real === undefined) throw new Error('the test server is used before it started');
        return real;
      };
      // The suite's tests read the server lazily, so `t.base` and friends are the started one's.
      const t = new Proxy({} as TestServer, {
        get: (_target, key) => Reflect.get(started(), key) as unknown,
      });
      // Registered before the body's own hooks, so that those already see a started server.
      let opts: ServerOptions = {};
      before(async () => {
        real = await startServer(dialect, opts);
      });
      after(async () => real?.close());
      opts = body(t, dialect) ?? {};
    });
  }
}

export async function startServer(dialect: Dialect, opts: ServerOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'kw-test-'));
  const schema = dialect.name === 'postgres' ? `kw_t_${randomBytes(6).toString('hex')}` : undefined;
  const config = loadConfig({
    KEYWARDEN_DATA_DIR: dir,
    KEYWARDEN_LOG_LEVEL: 'debug',
    // PostgreSQL needs the server secret; one for every test server keeps the dialects alike.
    KEYWARDEN_SECRET: TEST_SECRET,
    // The suites' webhook receivers listen on loopback; the SSRF rule itself is tested with this off.
    KEYWARDEN_WEBHOOK_ALLOW_PRIVATE: 'true',
    // Suites send many wrong keys on purpose; the throttling tests set their own threshold.
    KEYWARDEN_AUTH_FAILURES_PER_MINUTE: '0',
    ...(dialect.name === 'postgres' && pgUrl ? { KEYWARDEN_DATABASE_URL: pgUrl } : {}),
    ...opts.env,
  });
  let captured = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      captured += chunk.toString();
      cb();
    },
  });
  const logger = pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
  const kw = await createKeywarden(config, { ...opts, logger, ...(schema ? { schema } : {}) });
  const { key: root } = await kw.services.admin.initRoot();
  return {
    kw,
    root,
    config,
    schema,
    logs: () => captured,
    openStorage: () =>
      openStorage({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        schema: config.databaseSchema ?? schema,
      }),
    async close() {
      await kw.close();
      if (schema !== undefined && pgUrl) {
        const s = openStorage({ databaseUrl: pgUrl, dataDir: dir });
        await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(s.db);
        await s.close();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string | string[] | number | undefined>;
  raw: string;
}

/** Calls the app in process (no socket) as an HTTP client would. */
export async function call(
  t: TestServer,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  url: string,
  body?: unknown,
  adminKey: string | null = t.root,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await t.kw.app.inject({
    method,
    url,
    headers: {
      ...(adminKey !== null ? { authorization: `Bearer ${adminKey}` } : {}),
      ...(body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)
        ? { 'content-type': 'application/json' }
        : {}),
      ...headers,
    },
    ...(body === undefined
      ? {}
      : { payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) }),
  });
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    parsed = {};
  }
  return { status: res.statusCode, body: parsed, headers: res.headers, raw: res.body };
}

export const aKey = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: `crm-prod-${randomBytes(4).toString('hex')}`,
  environment: 'production',
  system: 'crm',
  purpose: 'agent-call',
  owner: { team: 'crm', contact: 'crm-oncall@example.com' },
  permissions: ['agents:invoke:agt_42'],
  // The default policy wants production keys to expire within 365 days.
  expiresAt: new Date(Date.now() + 90 * 86_400_000).toISOString(),
  ...over,
});

export async function createKey(
  t: TestServer,
  over: Record<string, unknown> = {},
): Promise<{ key: string; id: string; record: Record<string, unknown> }> {
  const r = await call(t, 'POST', '/v1/keys', aKey(over));
  if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.raw}`);
  const record = r.body.record as Record<string, unknown>;
  return { key: r.body.key as string, id: record.id as string, record };
}

export async function verify(
  t: TestServer,
  body: Record<string, unknown>,
  adminKey: string = t.root,
): Promise<Record<string, unknown>> {
  const r = await call(t, 'POST', '/v1/verify', { environment: 'production', ...body }, adminKey);
  if (r.status !== 200) throw new Error(`verify answered ${r.status}: ${r.raw}`);
  return r.body;
}
