import { resolve } from 'node:path';
import { isCidr } from './core/cidr.js';
import { PREFIX_PATTERN } from './core/keys.js';
import { SECRET_MIN_LENGTH } from './core/secrets.js';

/** Everything Keywarden reads from its environment, parsed once at start (SPEC §6 names). */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  keyPrefix: string;
  pepper: string | undefined;
  logLevel: string;
  cacheMax: number;
  cacheTtlSeconds: number;
  bodyLimitBytes: number;
  /** Which proxies' X-Forwarded-For is believed: none (false), a hop count, or proxy addresses/CIDRs. */
  trustProxy: TrustProxy;
  databaseSchema: string | undefined;
  redisPrefix: string;
  rateLimitOnRedisFailure: 'open' | 'closed';
  usageFlushMs: number;
  usageMaxBufferedLogs: number;
  /**
   * SQLite: usage batches are written by a worker thread (`worker`) or on the main thread
   * (`in-process`; `thread`, its former name, is still accepted).
   */
  usageWriter: 'worker' | 'in-process';
  /** Verification events per usage transaction (how long admin writes may wait for one on SQLite). */
  usageRowsPerTransaction: number;
  logRetentionDays: number;
  /** How often background jobs (credit refills, log retention) run. */
  jobIntervalSeconds: number;
  /** First retry delay of a failed webhook delivery; doubles each attempt. */
  webhookRetryBaseMs: number;
  /** Web console sessions end after this long without a request, and after the absolute limit. */
  sessionIdleMinutes: number;
  sessionMaxHours: number;

  // Server secret and webhook targets (docs/audit-and-secrets.md).
  /** KEYWARDEN_SECRET: keys the audit chain and encrypts webhook secrets (subkeys via HKDF). */
  secret: string | undefined;
  /** KEYWARDEN_WEBHOOK_ALLOW_PRIVATE: let webhooks target loopback/private/link-local addresses (development, tests). */
  webhookAllowPrivate: boolean;
  // Failure handling (docs/failure-modes.md).
  /** How often each node PINGs Redis, and how long an answer may take before Redis counts as down. */
  redisHealthIntervalMs: number;
  redisHealthTimeoutMs: number;
  /** Repeated warnings of one cause (failed requests, say) are logged at most once per this interval. */
  logRepeatIntervalMs: number;
  /** How long an admin key read from storage is trusted without a re-read (changes clear it at once). */
  adminCacheTtlSeconds: number;
  /**
   * The verification log (docs/verification-log.md): rows per minute per node at most (the rest
   * in one overflow row per minute and code), and where one JSON line per verification goes
   * (`stdout`, `file:<path>`, or null: nowhere).
   */
  logMaxRowsPerMinute: number;
  verifyEvents: string | null;
  /** Limits at the HTTP edge: timeouts, connections, failed-auth throttling (docs/security.md). */
  edge: EdgeConfig;
}

/** `false`, a number of proxy hops to trust, or the addresses/CIDRs of trusted proxies. */
export type TrustProxy = false | number | string[];

/** Hardening of the HTTP edge; every value documented in docs/security.md. */
export interface EdgeConfig {
  /** The whole request (headers and body) must arrive within this; else 408 and the socket closes. */
  requestTimeoutMs: number;
  /** The request headers must arrive within this. */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Open connections per client address (TCP peer); 0 = no cap. */
  maxConnectionsPerIp: number;
  /** Failed authentications per client address (and per admin-key prefix) per minute; 0 = off. */
  authFailuresPerMinute: number;
  /** When set, GET /metrics needs `Authorization: Bearer <this>`. */
  metricsToken: string | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

// The parser of boolean settings; none is read right now (KEYWARDEN_TRUST_PROXY took more values).
// eslint-disable-next-line @typescript-eslint/no-unused-vars
function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Fails fast with a message that names the variable. Defaults are filled here and nowhere else. */
export function loadConfig(env: Env = process.env): Config {
  const keyPrefix = env.KEYWARDEN_KEY_PREFIX ?? 'kw';
  if (!PREFIX_PATTERN.test(keyPrefix)) {
    throw new ConfigError(
      `KEYWARDEN_KEY_PREFIX must be 1–10 lowercase letters or digits, got "${keyPrefix}"`,
    );
  }
  const databaseUrl = env.KEYWARDEN_DATABASE_URL || undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(
      'KEYWARDEN_DATABASE_URL must be a postgres:// URL (leave it unset for the embedded SQLite store)',
    );
  }
  const redisUrl = env.KEYWARDEN_REDIS_URL || undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError('KEYWARDEN_REDIS_URL must be a redis:// or rediss:// URL');
  }
  const logLevel = env.KEYWARDEN_LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`KEYWARDEN_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const pepper = env.KEYWARDEN_PEPPER || undefined;
  if (pepper !== undefined && pepper.length < 16) {
    throw new ConfigError('KEYWARDEN_PEPPER must be at least 16 characters');
  }
  const databaseSchema = env.KEYWARDEN_DATABASE_SCHEMA || undefined;
  if (databaseSchema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(databaseSchema)) {
    throw new ConfigError(
      `KEYWARDEN_DATABASE_SCHEMA must be a lowercase SQL identifier, got "${databaseSchema}"`,
    );
  }
  const onFailure = env.KEYWARDEN_RATELIMIT_ON_REDIS_FAILURE || 'open';
  if (onFailure !== 'open' && onFailure !== 'closed') {
    throw new ConfigError(
      `KEYWARDEN_RATELIMIT_ON_REDIS_FAILURE must be "open" or "closed", got "${onFailure}"`,
    );
  }
  // `thread` is the former name of `in-process` (it meant the main thread), kept as an alias.
  const usageWriterRaw = env.KEYWARDEN_USAGE_WRITER || 'worker';
  const usageWriter = usageWriterRaw === 'thread' ? 'in-process' : usageWriterRaw;
  if (usageWriter !== 'worker' && usageWriter !== 'in-process') {
    throw new ConfigError(
      `KEYWARDEN_USAGE_WRITER must be "worker" or "in-process" ("thread" is an alias of "in-process"), got "${usageWriterRaw}"`,
    );
  }
  const redisPrefix = env.KEYWARDEN_REDIS_PREFIX ?? 'kw:';
  if (!/^[A-Za-z0-9:_-]{0,64}$/.test(redisPrefix)) {
    throw new ConfigError(
      'KEYWARDEN_REDIS_PREFIX may only hold letters, digits, ":", "_" and "-" (at most 64)',
    );
  }
  // Server secret and webhook targets (docs/audit-and-secrets.md). Whether the secret may be
  // missing depends on the store (SQLite keeps a generated one in the data directory): see
  // server-secret.ts, which start-up runs.
  const secret = env.KEYWARDEN_SECRET || undefined;
  if (secret !== undefined && secret.length < SECRET_MIN_LENGTH) {
    throw new ConfigError(`KEYWARDEN_SECRET must be at least ${SECRET_MIN_LENGTH} characters`);
  }
  const webhookAllowPrivate = bool(env, 'KEYWARDEN_WEBHOOK_ALLOW_PRIVATE', false);
  return {
    secret,
    webhookAllowPrivate,
    databaseSchema,
    redisPrefix,
    rateLimitOnRedisFailure: onFailure,
    port: int(env, 'KEYWARDEN_PORT', 8080, 0, 65535),
    host: env.KEYWARDEN_HOST || '127.0.0.1',
    dataDir: resolve(env.KEYWARDEN_DATA_DIR || './data'),
    databaseUrl,
    redisUrl,
    keyPrefix,
    pepper,
    logLevel,
    cacheMax: int(env, 'KEYWARDEN_CACHE_MAX', 1_000_000, 1, 100_000_000),
    cacheTtlSeconds: int(env, 'KEYWARDEN_CACHE_TTL_SECONDS', 300, 1, 86_400),
    bodyLimitBytes: 1024 * 1024,
    trustProxy: trustProxy(env.KEYWARDEN_TRUST_PROXY),
    usageFlushMs: int(env, 'KEYWARDEN_USAGE_FLUSH_MS', 1000, 10, 3_600_000),
    usageMaxBufferedLogs: int(env, 'KEYWARDEN_USAGE_MAX_BUFFERED_LOGS', 200_000, 1, 100_000_000),
    usageWriter,
    usageRowsPerTransaction: int(env, 'KEYWARDEN_USAGE_ROWS_PER_TRANSACTION', 20_000, 100, 10_000_000),
    logRetentionDays: int(env, 'KEYWARDEN_LOG_RETENTION_DAYS', 30, 1, 3650),
    jobIntervalSeconds: int(env, 'KEYWARDEN_JOB_INTERVAL_SECONDS', 60, 1, 86_400),
    webhookRetryBaseMs: int(env, 'KEYWARDEN_WEBHOOK_RETRY_BASE_MS', 1000, 1, 3_600_000),
    sessionIdleMinutes: int(env, 'KEYWARDEN_SESSION_IDLE_MINUTES', 30, 1, 1440),
    sessionMaxHours: int(env, 'KEYWARDEN_SESSION_MAX_HOURS', 12, 1, 720),
    // Failure handling (docs/failure-modes.md).
    redisHealthIntervalMs: int(env, 'KEYWARDEN_REDIS_HEALTH_INTERVAL_MS', 250, 10, 60_000),
    redisHealthTimeoutMs: int(env, 'KEYWARDEN_REDIS_HEALTH_TIMEOUT_MS', 500, 10, 60_000),
    logRepeatIntervalMs: int(env, 'KEYWARDEN_LOG_REPEAT_INTERVAL_MS', 10_000, 0, 3_600_000),
    adminCacheTtlSeconds: int(env, 'KEYWARDEN_ADMIN_CACHE_TTL_SECONDS', 10, 1, 3600),
    ...logConfig(env),
    edge: edgeConfig(env),
  };
}

/**
 * KEYWARDEN_TRUST_PROXY: unset/`false` trusts no proxy (the client is the TCP peer); `true` means
 * exactly one proxy hop (never "every hop", which would let any client spoof its address); a
 * number is that many hops; otherwise a comma-separated list of proxy addresses or CIDRs.
 */
function trustProxy(raw: string | undefined): TrustProxy {
  if (raw === undefined || raw === '' || /^(0|false|no)$/i.test(raw)) return false;
  if (/^(true|yes)$/i.test(raw)) return 1;
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    if (n > 10) throw new ConfigError(`KEYWARDEN_TRUST_PROXY must be a hop count of at most 10, got ${n}`);
    return n;
  }
  const list = raw.split(',').map((s) => s.trim());
  const bad = list.find((c) => !isCidr(c));
  if (bad !== undefined) {
    throw new ConfigError(
      `KEYWARDEN_TRUST_PROXY must be false, true (one hop), a hop count or a comma-separated list of proxy addresses/CIDRs; "${bad}" is none of these`,
    );
  }
  return list;
}

function edgeConfig(env: Env): EdgeConfig {
  const requestTimeoutMs = int(env, 'KEYWARDEN_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000);
  const headersTimeoutMs = int(env, 'KEYWARDEN_HEADERS_TIMEOUT_MS', 10_000, 100, 3_600_000);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(
      `KEYWARDEN_HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not exceed KEYWARDEN_REQUEST_TIMEOUT_MS (${requestTimeoutMs})`,
    );
  }
  const metricsToken = env.KEYWARDEN_METRICS_TOKEN || undefined;
  if (metricsToken !== undefined && !/^[\x21-\x7e]{16,256}$/.test(metricsToken)) {
    throw new ConfigError('KEYWARDEN_METRICS_TOKEN must be 16–256 printable characters without spaces');
  }
  return {
    requestTimeoutMs,
    headersTimeoutMs,
    keepAliveTimeoutMs: int(env, 'KEYWARDEN_KEEP_ALIVE_TIMEOUT_MS', 5_000, 100, 600_000),
    maxConnectionsPerIp: int(env, 'KEYWARDEN_MAX_CONNECTIONS_PER_IP', 256, 0, 1_000_000),
    authFailuresPerMinute: int(env, 'KEYWARDEN_AUTH_FAILURES_PER_MINUTE', 30, 0, 1_000_000),
    metricsToken,
  };
}

/** The verification log's settings (docs/verification-log.md). */
function logConfig(env: Env): Pick<Config, 'logMaxRowsPerMinute' | 'verifyEvents'> {
  const events = env.KEYWARDEN_VERIFY_EVENTS || null;
  if (events !== null && events !== 'stdout' && !(events.startsWith('file:') && events.length > 5)) {
    throw new ConfigError(`KEYWARDEN_VERIFY_EVENTS must be "stdout" or "file:<path>", got "${events}"`);
  }
  return {
    logMaxRowsPerMinute: int(env, 'KEYWARDEN_LOG_MAX_ROWS_PER_MINUTE', 50_000, 1, 10_000_000),
    verifyEvents: events,
  };
}
