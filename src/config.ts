import { resolve } from 'node:path';
import { isCidr } from './core/cidr.js';
import { parseRoleMap, type RoleMapping } from './core/members.js';
import { PREFIX_PATTERN } from './core/keys.js';
import { SECRET_MIN_LENGTH } from './core/secrets.js';
import {
  boolean,
  ConfigError,
  custom,
  integer,
  oneOf,
  optional,
  parseAll,
  text,
  type Env,
  type Setting,
} from './config/settings.js';

export { ConfigError, type Setting } from './config/settings.js';

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
  usageFlushMaxMs: number;
  usageWriterBudgetNs: number;
  usageMaxBufferedLogs: number;
  /** SQLite: usage batches are written by a worker thread (`worker`) or on the main thread (`thread`). */
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
  /** Console single sign-on (docs/members-and-sso.md); all four set, or none. */
  oidcIssuer: string | undefined;
  oidcClientId: string | undefined;
  oidcClientSecret: string | undefined;
  publicUrl: string | undefined;
  oidcGroupsClaim: string;
  /** Groups → role (and team) for just-in-time members; empty: no mapping. */
  oidcRoleMap: RoleMapping[];
  /** Whether the console accepts an admin key to sign in (first setup, break-glass). */
  consoleKeySignIn: boolean;

  // Server secret and webhook targets (docs/audit-and-secrets.md).
  /** KEYWARDEN_SECRET: keys the audit chain and encrypts webhook secrets (subkeys via HKDF). */
  secret: string | undefined;
  /** KEYWARDEN_WEBHOOK_ALLOW_PRIVATE: let webhooks target loopback/private/link-local addresses (development, tests). */
  webhookAllowPrivate: boolean;
  // Owner mail (docs/notifications.md).
  smtpUrl: string | undefined;
  mailFrom: string | undefined;
  digest: 'off' | 'daily';
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

/** The largest accepted request body (not configurable). */
const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * THE configuration table: every environment variable the server reads, with its type, default,
 * allowed values, description and doc page. Parsing (loadConfig), `keywarden serve --help` and the
 * README's configuration table (`npm run docs:config`) are all generated from it, and
 * src/config/docs.test.ts checks that they agree. Keys are the Config fields (edge ones flat).
 * To add a setting: add an entry here (and its field to Config), then run `npm run docs:config`.
 */
export const SETTINGS = {
  // Where the server listens and what it stores.
  port: integer({
    name: 'KEYWARDEN_PORT',
    default: 8080,
    min: 0,
    max: 65535,
    description: 'the port the server listens on',
    doc: 'docs/operations.md',
  }),
  host: text({
    name: 'KEYWARDEN_HOST',
    default: '127.0.0.1',
    range: 'an address or host name',
    valid: () => true,
    rule: '',
    echo: false,
    description: 'the address the server listens on (`0.0.0.0`: every interface)',
    doc: 'docs/operations.md',
  }),
  dataDir: custom({
    name: 'KEYWARDEN_DATA_DIR',
    type: 'path',
    default: '`./data`',
    range: 'a directory',
    parse: (v) => resolve(v ?? './data'),
    description: 'the embedded SQLite store (WAL mode)',
    doc: 'docs/operations.md',
  }),
  databaseUrl: optional({
    name: 'KEYWARDEN_DATABASE_URL',
    type: 'URL',
    range: '`postgres://…`',
    valid: (v) => /^postgres(ql)?:\/\//.test(v),
    rule: 'must be a postgres:// URL (leave it unset for the embedded SQLite store)',
    echo: false,
    description: 'use PostgreSQL instead of SQLite',
    doc: 'docs/operations.md',
  }),
  databaseSchema: optional({
    name: 'KEYWARDEN_DATABASE_SCHEMA',
    range: 'a lowercase SQL identifier',
    valid: (v) => /^[a-z_][a-z0-9_]{0,62}$/.test(v),
    rule: 'must be a lowercase SQL identifier',
    echo: true,
    shownDefault: '`public`',
    description: "PostgreSQL: the schema holding Keywarden's tables",
    doc: '#running-several-nodes',
  }),
  redisUrl: optional({
    name: 'KEYWARDEN_REDIS_URL',
    type: 'URL',
    range: '`redis://…`, `rediss://…`',
    valid: (v) => /^rediss?:\/\//.test(v),
    rule: 'must be a redis:// or rediss:// URL',
    echo: false,
    description: 'share rate limits, credits and cache invalidation between nodes',
    doc: '#running-several-nodes',
  }),
  redisPrefix: text({
    name: 'KEYWARDEN_REDIS_PREFIX',
    default: 'kw:',
    // Empty is a valid prefix (none), not "unset".
    emptyIsUnset: false,
    range: 'letters, digits, `:`, `_`, `-` (≤ 64)',
    valid: (v) => /^[A-Za-z0-9:_-]{0,64}$/.test(v),
    rule: 'may only hold letters, digits, ":", "_" and "-" (at most 64)',
    echo: false,
    description: "prefix of Keywarden's Redis keys (several deployments can share one Redis)",
    doc: '#running-several-nodes',
  }),
  rateLimitOnRedisFailure: oneOf({
    name: 'KEYWARDEN_RATELIMIT_ON_REDIS_FAILURE',
    values: ['open', 'closed'] as const,
    default: 'open',
    description: 'Redis down: rate-limited keys pass (`open`) or are refused with `RATE_LIMITED` (`closed`)',
    doc: 'docs/failure-modes.md',
  }),

  // Keys.
  keyPrefix: text({
    name: 'KEYWARDEN_KEY_PREFIX',
    default: 'kw',
    emptyIsUnset: false,
    range: '1–10 lowercase letters or digits',
    valid: (v) => PREFIX_PATTERN.test(v),
    rule: 'must be 1–10 lowercase letters or digits',
    echo: true,
    description: "the deployment's key prefix",
    doc: 'docs/operations.md',
  }),
  pepper: optional({
    name: 'KEYWARDEN_PEPPER',
    type: 'secret',
    range: '≥ 16 characters',
    valid: (v) => v.length >= 16,
    rule: 'must be at least 16 characters',
    echo: false,
    description: 'store keys as HMAC-SHA-256 with this server-side secret instead of SHA-256',
    doc: 'docs/operations.md',
  }),
  cacheMax: integer({
    name: 'KEYWARDEN_CACHE_MAX',
    default: 1_000_000,
    min: 1,
    max: 100_000_000,
    description: 'verification cache bound (entries)',
    doc: 'docs/security.md',
  }),
  cacheTtlSeconds: integer({
    name: 'KEYWARDEN_CACHE_TTL_SECONDS',
    default: 300,
    min: 1,
    max: 86_400,
    description: 'verification cache TTL: only a safety net (changes invalidate explicitly)',
    doc: 'docs/failure-modes.md',
  }),
  adminCacheTtlSeconds: integer({
    name: 'KEYWARDEN_ADMIN_CACHE_TTL_SECONDS',
    default: 10,
    min: 1,
    max: 3600,
    description: 'how long an admin key read from storage is trusted without a re-read',
    doc: 'docs/failure-modes.md',
  }),

  // Logging.
  logLevel: oneOf({
    name: 'KEYWARDEN_LOG_LEVEL',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const,
    default: 'info',
    emptyIsUnset: false,
    description: 'pino level; authorization headers and key fields are always redacted',
    doc: undefined,
  }),
  logRepeatIntervalMs: integer({
    name: 'KEYWARDEN_LOG_REPEAT_INTERVAL_MS',
    default: 10_000,
    min: 0,
    max: 3_600_000,
    description: 'repeated warnings of one cause are logged at most once per this interval',
    doc: 'docs/failure-modes.md',
  }),

  // Usage pipeline and the verification log (docs/verification-log.md).
  usageFlushMs: integer({
    name: 'KEYWARDEN_USAGE_FLUSH_MS',
    default: 1000,
    min: 10,
    max: 3_600_000,
    description:
      'how often usage counters and log rows are written (stretched under load up to KEYWARDEN_USAGE_FLUSH_MAX_MS)',
    doc: 'docs/verification-log.md',
  }),
  usageFlushMaxMs: integer({
    name: 'KEYWARDEN_USAGE_FLUSH_MAX_MS',
    default: 60_000,
    min: 10,
    max: 3_600_000,
    description:
      'longest flush interval under load (at or below KEYWARDEN_USAGE_FLUSH_MS: never stretched); credit use is still written every KEYWARDEN_USAGE_FLUSH_MS',
    doc: 'docs/verification-log.md',
  }),
  usageWriterBudgetNs: integer({
    name: 'KEYWARDEN_USAGE_WRITER_BUDGET_NS',
    default: 1000,
    min: 1,
    max: 1_000_000,
    description:
      'writer time per verification the flush interval is stretched to meet (only from 1000 verifications a second, with the writer over 1% of a core)',
    doc: 'docs/verification-log.md',
  }),
  usageMaxBufferedLogs: integer({
    name: 'KEYWARDEN_USAGE_MAX_BUFFERED_LOGS',
    default: 1_000_000,
    min: 1,
    max: 100_000_000,
    description:
      'verification events kept in memory (~64 bytes each) before the rest are aggregated on the main thread; a flush starts at 90% of it',
    doc: 'docs/failure-modes.md',
  }),
  usageWriter: oneOf({
    name: 'KEYWARDEN_USAGE_WRITER',
    values: ['worker', 'in-process'] as const,
    // `thread` is the former name of `in-process` (it meant the main thread), kept as an alias.
    aliases: { thread: 'in-process' },
    default: 'worker',
    description:
      'SQLite: write usage from a worker thread (`worker`) or on the main thread (`in-process`; `thread` is an alias)',
    doc: 'docs/architecture.md',
  }),
  usageRowsPerTransaction: integer({
    name: 'KEYWARDEN_USAGE_ROWS_PER_TRANSACTION',
    default: 20_000,
    min: 100,
    max: 10_000_000,
    description:
      'log rows (distinct calls per minute) per usage transaction: what an admin write on SQLite may wait for',
    doc: 'docs/hot-path.md',
  }),
  logRetentionDays: integer({
    name: 'KEYWARDEN_LOG_RETENTION_DAYS',
    default: 30,
    min: 1,
    max: 3650,
    description: 'verification log retention',
    doc: 'docs/verification-log.md',
  }),
  logMaxRowsPerMinute: integer({
    name: 'KEYWARDEN_LOG_MAX_ROWS_PER_MINUTE',
    default: 50_000,
    min: 1,
    max: 10_000_000,
    description: 'log rows per minute per node at most; further calls go to an overflow row per code',
    doc: 'docs/verification-log.md',
  }),
  verifyEvents: optional({
    name: 'KEYWARDEN_VERIFY_EVENTS',
    range: '`stdout`, `file:<path>`',
    valid: (v) => v === 'stdout' || (v.startsWith('file:') && v.length > 5),
    rule: 'must be "stdout" or "file:<path>"',
    echo: true,
    description: 'one JSON line per verification for log pipelines (unset: none)',
    doc: 'docs/verification-log.md',
  }),
  jobIntervalSeconds: integer({
    name: 'KEYWARDEN_JOB_INTERVAL_SECONDS',
    default: 60,
    min: 1,
    max: 86_400,
    description: 'how often background jobs (credit refills, retention) run',
    doc: undefined,
  }),

  // Server secret and webhooks (docs/audit-and-secrets.md). Whether the secret may be missing
  // depends on the store (SQLite keeps a generated one in the data directory): see
  // server-secret.ts, which start-up runs.
  secret: optional({
    name: 'KEYWARDEN_SECRET',
    type: 'secret',
    range: `≥ ${SECRET_MIN_LENGTH} characters`,
    valid: (v) => v.length >= SECRET_MIN_LENGTH,
    rule: `must be at least ${SECRET_MIN_LENGTH} characters`,
    echo: false,
    shownDefault: 'SQLite: generated',
    description: 'server secret: keys the audit chain, encrypts webhook secrets; required on PostgreSQL',
    doc: 'docs/audit-and-secrets.md',
  }),
  webhookAllowPrivate: boolean({
    name: 'KEYWARDEN_WEBHOOK_ALLOW_PRIVATE',
    default: false,
    description: 'let webhooks target loopback/private/link-local addresses (development only)',
    doc: 'docs/audit-and-secrets.md',
  }),
  webhookRetryBaseMs: integer({
    name: 'KEYWARDEN_WEBHOOK_RETRY_BASE_MS',
    default: 1000,
    min: 1,
    max: 3_600_000,
    description: 'first retry delay of a failed webhook delivery; doubles each attempt',
    doc: '#governance',
  }),

  // Owner notifications by email (docs/notifications.md): on when both the SMTP URL and the sender are set.
  smtpUrl: optional({
    name: 'KEYWARDEN_SMTP_URL',
    type: 'URL',
    range: '`smtp://…`, `smtps://…`',
    valid: (v) => /^smtps?:\/\/[^/]/.test(v),
    rule: 'must be an smtp:// or smtps:// URL (credentials in it: smtp://user:password@host:587)',
    echo: false,
    description: "SMTP server for owner mail (to a key's `owner.contact` when it is an address)",
    doc: 'docs/notifications.md',
  }),
  mailFrom: optional({
    name: 'KEYWARDEN_MAIL_FROM',
    range: 'an address, or `Name <address>`',
    valid: (v) => /^([^<>\r\n]*<[^<>@\s]+@[^<>@\s]+>|[^<>@\s]+@[^<>@\s]+)$/.test(v),
    rule: 'must be an email address or "Name <address>"',
    echo: true,
    description: 'the From of owner mail (mail is sent only when this and the SMTP URL are set)',
    doc: 'docs/notifications.md',
  }),
  digest: oneOf({
    name: 'KEYWARDEN_DIGEST',
    values: ['off', 'daily'] as const,
    default: 'off',
    description: "a daily mail per owner contact of their keys' governance findings",
    doc: 'docs/notifications.md',
  }),

  // Web console sessions.
  sessionIdleMinutes: integer({
    name: 'KEYWARDEN_SESSION_IDLE_MINUTES',
    default: 30,
    min: 1,
    max: 1440,
    description: 'a console session ends after this long without a request',
    doc: 'docs/console.md',
  }),
  sessionMaxHours: integer({
    name: 'KEYWARDEN_SESSION_MAX_HOURS',
    default: 12,
    min: 1,
    max: 720,
    description: 'a console session ends this long after sign-in',
    doc: 'docs/console.md',
  }),

  // Members and console single sign-on (docs/members-and-sso.md).
  oidcIssuer: optional({
    name: 'KEYWARDEN_OIDC_ISSUER',
    type: 'URL',
    range: '`https://…` (`http://` on loopback only)',
    valid: isIssuerUrl,
    rule: 'must be an https:// URL (http:// only for 127.0.0.1, localhost or [::1])',
    echo: false,
    description:
      'the OpenID Connect issuer for console sign-in (discovery at `/.well-known/openid-configuration`)',
    doc: 'docs/members-and-sso.md',
  }),
  oidcClientId: optional({
    name: 'KEYWARDEN_OIDC_CLIENT_ID',
    range: 'the client id registered at the provider',
    valid: (v) => v.length <= 512,
    rule: 'must be at most 512 characters',
    echo: true,
    description: "Keywarden's client id at the identity provider",
    doc: 'docs/members-and-sso.md',
  }),
  oidcClientSecret: optional({
    name: 'KEYWARDEN_OIDC_CLIENT_SECRET',
    type: 'secret',
    range: 'the client secret registered at the provider (printable, no spaces)',
    valid: (v) => /^[\x21-\x7e]{1,1024}$/.test(v),
    rule: 'must be 1–1024 printable characters without spaces',
    echo: false,
    description: "Keywarden's client secret at the identity provider",
    doc: 'docs/members-and-sso.md',
  }),
  publicUrl: optional({
    name: 'KEYWARDEN_PUBLIC_URL',
    type: 'URL',
    range: '`http://…`, `https://…`',
    valid: (v) => /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(v),
    rule: 'must be an http:// or https:// URL without query or fragment',
    echo: false,
    description:
      'the URL people open Keywarden at: links in owner mail point to its console pages, and the SSO redirect URI is `<this>/console/api/oidc/callback`',
    doc: 'docs/members-and-sso.md',
  }),
  oidcGroupsClaim: text({
    name: 'KEYWARDEN_OIDC_GROUPS_CLAIM',
    default: 'groups',
    range: 'an ID token claim name',
    valid: (v) => /^[A-Za-z0-9_:./-]{1,128}$/.test(v),
    rule: 'must be a claim name (letters, digits, _ : . / -)',
    echo: true,
    description: "the ID token claim that lists the person's groups (for `KEYWARDEN_OIDC_ROLE_MAP`)",
    doc: 'docs/members-and-sso.md',
  }),
  oidcRoleMap: custom({
    name: 'KEYWARDEN_OIDC_ROLE_MAP',
    type: 'list',
    default: '',
    range: '`group=role` or `group=role@team`, comma-separated',
    parse: roleMap,
    description:
      'groups whose members become members just in time, e.g. `kw-owners=owner,crm-admins=admin@crm`',
    doc: 'docs/members-and-sso.md',
  }),
  consoleKeySignIn: boolean({
    name: 'KEYWARDEN_CONSOLE_KEY_SIGNIN',
    default: true,
    description: 'whether the console accepts an admin key to sign in (set `false` once SSO works)',
    doc: 'docs/members-and-sso.md',
  }),

  // Failure handling (docs/failure-modes.md).
  redisHealthIntervalMs: integer({
    name: 'KEYWARDEN_REDIS_HEALTH_INTERVAL_MS',
    default: 250,
    min: 10,
    max: 60_000,
    description: 'how often each node PINGs Redis',
    doc: 'docs/failure-modes.md',
  }),
  redisHealthTimeoutMs: integer({
    name: 'KEYWARDEN_REDIS_HEALTH_TIMEOUT_MS',
    default: 500,
    min: 10,
    max: 60_000,
    description: 'a PING answered later than this marks Redis down',
    doc: 'docs/failure-modes.md',
  }),

  // The HTTP edge (docs/security.md).
  trustProxy: custom({
    name: 'KEYWARDEN_TRUST_PROXY',
    type: 'list',
    default: '`false`',
    range: '`false`, `true` (one hop), a hop count ≤ 10, proxy addresses/CIDRs',
    parse: trustProxy,
    description: 'whose `X-Forwarded-For` to believe (client addresses for IP allowlists and limits)',
    doc: 'docs/security.md',
  }),
  requestTimeoutMs: integer({
    name: 'KEYWARDEN_REQUEST_TIMEOUT_MS',
    default: 30_000,
    min: 100,
    max: 3_600_000,
    description: 'the whole request must arrive within this, else `408`',
    doc: 'docs/security.md',
  }),
  headersTimeoutMs: integer({
    name: 'KEYWARDEN_HEADERS_TIMEOUT_MS',
    default: 10_000,
    min: 100,
    max: 3_600_000,
    description: 'the request headers must arrive within this (at most `KEYWARDEN_REQUEST_TIMEOUT_MS`)',
    doc: 'docs/security.md',
  }),
  keepAliveTimeoutMs: integer({
    name: 'KEYWARDEN_KEEP_ALIVE_TIMEOUT_MS',
    default: 5_000,
    min: 100,
    max: 600_000,
    description: 'idle keep-alive connections are closed after this',
    doc: 'docs/security.md',
  }),
  maxConnectionsPerIp: integer({
    name: 'KEYWARDEN_MAX_CONNECTIONS_PER_IP',
    default: 256,
    min: 0,
    max: 1_000_000,
    description: 'open connections per client address (`0`: no cap)',
    doc: 'docs/security.md',
  }),
  authFailuresPerMinute: integer({
    name: 'KEYWARDEN_AUTH_FAILURES_PER_MINUTE',
    default: 30,
    min: 0,
    max: 1_000_000,
    description: 'failed authentications per address or key prefix before `429` (`0`: off)',
    doc: 'docs/security.md',
  }),
  metricsToken: optional({
    name: 'KEYWARDEN_METRICS_TOKEN',
    type: 'secret',
    range: '16–256 printable characters',
    valid: (v) => /^[\x21-\x7e]{16,256}$/.test(v),
    rule: 'must be 16–256 printable characters without spaces',
    echo: false,
    description: 'when set, `GET /metrics` needs `Authorization: Bearer <token>`',
    doc: 'docs/security.md',
  }),
} satisfies Record<string, Setting<unknown>>;

/**
 * Variables the command-line client reads (src/cli/io.ts), not the server: documented with the
 * same table format. Their parsing stays with the CLI.
 */
export const CLIENT_SETTINGS: readonly Setting<string | undefined>[] = [
  optional({
    name: 'KEYWARDEN_URL',
    type: 'URL',
    range: '`http://…`, `https://…`',
    valid: () => true,
    rule: '',
    echo: false,
    shownDefault: '`http://127.0.0.1:8080`',
    description: 'the server the CLI talks to (`--url`)',
    doc: '#command-line',
  }),
  optional({
    name: 'KEYWARDEN_ADMIN_KEY',
    type: 'secret',
    range: 'an admin key',
    valid: () => true,
    rule: '',
    echo: false,
    description: 'the admin key the CLI authenticates with (`--admin-key`)',
    doc: '#command-line',
  }),
];

/** Fails fast with a message that names the variable. Defaults are filled in the table and nowhere else. */
export function loadConfig(env: Env = process.env): Config {
  const v = parseAll(SETTINGS, env);
  // The one rule between two variables.
  if (v.headersTimeoutMs > v.requestTimeoutMs) {
    throw new ConfigError(
      `KEYWARDEN_HEADERS_TIMEOUT_MS (${v.headersTimeoutMs}) must not exceed KEYWARDEN_REQUEST_TIMEOUT_MS (${v.requestTimeoutMs})`,
    );
  }
  const oidc = [
    ['KEYWARDEN_OIDC_ISSUER', v.oidcIssuer],
    ['KEYWARDEN_OIDC_CLIENT_ID', v.oidcClientId],
    ['KEYWARDEN_OIDC_CLIENT_SECRET', v.oidcClientSecret],
    ['KEYWARDEN_PUBLIC_URL', v.publicUrl],
  ] as const;
  const missing = oidc.filter(([, x]) => x === undefined).map(([name]) => name);
  if (v.oidcIssuer !== undefined && missing.length > 0) {
    throw new ConfigError(`KEYWARDEN_OIDC_ISSUER is set, so single sign-on also needs ${missing.join(', ')}`);
  }
  if (!v.consoleKeySignIn && v.oidcIssuer === undefined) {
    throw new ConfigError(
      'KEYWARDEN_CONSOLE_KEY_SIGNIN=false needs single sign-on (KEYWARDEN_OIDC_ISSUER …): nobody could sign in to the console',
    );
  }
  const {
    requestTimeoutMs,
    headersTimeoutMs,
    keepAliveTimeoutMs,
    maxConnectionsPerIp,
    authFailuresPerMinute,
    metricsToken,
    verifyEvents,
    ...rest
  } = v;
  return {
    ...rest,
    bodyLimitBytes: BODY_LIMIT_BYTES,
    verifyEvents: verifyEvents ?? null,
    edge: {
      requestTimeoutMs,
      headersTimeoutMs,
      keepAliveTimeoutMs,
      maxConnectionsPerIp,
      authFailuresPerMinute,
      metricsToken,
    },
  };
}

/** An https:// issuer, or http:// on loopback (development, tests). */
function isIssuerUrl(v: string): boolean {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return false;
  }
  if (u.protocol === 'https:') return true;
  return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}

/** KEYWARDEN_OIDC_ROLE_MAP: `group=role[@team]`, comma-separated (unset: no mapping). */
function roleMap(raw: string | undefined): RoleMapping[] {
  if (raw === undefined) return [];
  const parsed = parseRoleMap(raw);
  if (typeof parsed === 'string') throw new ConfigError(`KEYWARDEN_OIDC_ROLE_MAP: ${parsed}`);
  return parsed;
}

/**
 * KEYWARDEN_TRUST_PROXY: unset/`false` trusts no proxy (the client is the TCP peer); `true` means
 * exactly one proxy hop (never "every hop", which would let any client spoof its address); a
 * number is that many hops; otherwise a comma-separated list of proxy addresses or CIDRs.
 */
function trustProxy(raw: string | undefined): TrustProxy {
  if (raw === undefined || /^(0|false|no)$/i.test(raw)) return false;
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
