import { resolve } from 'node:path';
import { PREFIX_PATTERN } from './core/keys.js';

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
  trustProxy: boolean;
  databaseSchema: string | undefined;
  redisPrefix: string;
  rateLimitOnRedisFailure: 'open' | 'closed';
  usageFlushMs: number;
  usageMaxBufferedLogs: number;
  /** SQLite: usage batches are written by a worker thread (`worker`) or on the main thread (`thread`). */
  usageWriter: 'worker' | 'thread';
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
  /**
   * The verification log (docs/verification-log.md): rows per minute per node at most (the rest
   * in one overflow row per minute and code), and where one JSON line per verification goes
   * (`stdout`, `file:<path>`, or null: nowhere).
   */
  logMaxRowsPerMinute: number;
  verifyEvents: string | null;
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
  const usageWriter = env.KEYWARDEN_USAGE_WRITER || 'worker';
  if (usageWriter !== 'worker' && usageWriter !== 'thread') {
    throw new ConfigError(`KEYWARDEN_USAGE_WRITER must be "worker" or "thread", got "${usageWriter}"`);
  }
  const redisPrefix = env.KEYWARDEN_REDIS_PREFIX ?? 'kw:';
  if (!/^[A-Za-z0-9:_-]{0,64}$/.test(redisPrefix)) {
    throw new ConfigError(
      'KEYWARDEN_REDIS_PREFIX may only hold letters, digits, ":", "_" and "-" (at most 64)',
    );
  }
  return {
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
    trustProxy: bool(env, 'KEYWARDEN_TRUST_PROXY', false),
    usageFlushMs: int(env, 'KEYWARDEN_USAGE_FLUSH_MS', 1000, 10, 3_600_000),
    usageMaxBufferedLogs: int(env, 'KEYWARDEN_USAGE_MAX_BUFFERED_LOGS', 200_000, 1, 100_000_000),
    usageWriter,
    usageRowsPerTransaction: int(env, 'KEYWARDEN_USAGE_ROWS_PER_TRANSACTION', 20_000, 100, 10_000_000),
    logRetentionDays: int(env, 'KEYWARDEN_LOG_RETENTION_DAYS', 30, 1, 3650),
    jobIntervalSeconds: int(env, 'KEYWARDEN_JOB_INTERVAL_SECONDS', 60, 1, 86_400),
    webhookRetryBaseMs: int(env, 'KEYWARDEN_WEBHOOK_RETRY_BASE_MS', 1000, 1, 3_600_000),
    sessionIdleMinutes: int(env, 'KEYWARDEN_SESSION_IDLE_MINUTES', 30, 1, 1440),
    sessionMaxHours: int(env, 'KEYWARDEN_SESSION_MAX_HOURS', 12, 1, 720),
    ...logConfig(env),
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
