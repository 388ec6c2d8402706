import type { Actor } from './core/model.js';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createDigester, createHasher } from './core/keys.js';
import {
  localBus,
  systemClock,
  type Clock,
  type InvalidationBus,
  type Limiter,
  type UsageSink,
  nullEvents,
} from './core/ports.js';
import { buildApp } from './http/app.js';
import type { App, Services } from './http/types.js';
import { createLogger } from './logger.js';
import { MemoryVerificationCache } from './runtime/memory/cache.js';
import { MemoryLimiter } from './runtime/memory/limiter.js';
import { connectRedis } from './runtime/redis/connect.js';
import { UsageBatcher } from './runtime/usage/batcher.js';
import { createUsageWriter } from './runtime/usage/writer/create.js';
import { openVerifyEvents, type VerifyEventLines } from './runtime/usage/verify-events.js';
import { Closers } from './runtime/closers.js';
import { Jobs } from './services/jobs.js';
import { Metrics } from './runtime/metrics.js';
import { ADMIN_ID_PREFIX, AdminService } from './services/admin-service.js';
import { MembersService } from './services/members-service.js';
import { OidcSignIn } from './services/oidc.js';
import type { ServiceContext } from './services/context.js';
import { GovernanceService } from './services/governance-service.js';
import { IdentitiesService } from './services/identities-service.js';
import { NarrowingService } from './services/narrowing-service.js';
import { MAIL_RETRY_BASE_MS, MailService, withMail } from './services/mail/index.js';
import { ConsoleSessions } from './services/console-sessions.js';
import { KeysService } from './services/keys-service.js';
import { WebhookService, type Resolve } from './services/webhooks/index.js';
import { PolicyService } from './services/policy-service.js';
import { Verifier } from './services/verifier.js';
// Roles and imported keys (docs/roles.md, docs/import.md).
import { IMPORTED_SIGNAL, ImportedKeys } from './services/imported-keys.js';
import { ImportService } from './services/import-service.js';
import { RolesService } from './services/roles-service.js';
import { isStorageUnavailable, migrate, openStorage, type Storage } from './storage/db.js';
import { getMeta, insertMeta } from './storage/meta-repo.js';
import { withAuditKey } from './storage/audit-repo.js';
import { ConfigError } from './config.js';
import { deriveServerKeys, type ServerKeys } from './core/secrets.js';
import { resolveServerSecret } from './server-secret.js';
import { sql } from 'kysely';

export interface Keywarden {
  app: App;
  services: Services;
  storage: Storage;
  log: Logger;
  jobs: Jobs;
  close(): Promise<void>;
}

export interface CreateOptions {
  clock?: Clock;
  logger?: Logger;
  /** PostgreSQL schema (tests give each run its own). */
  schema?: string;
  usage?: UsageSink;
  limiter?: Limiter;
  bus?: InvalidationBus;
  /** DNS for webhook target checks (tests map names to addresses with it). */
  webhookResolve?: Resolve;
  /** First retry delay of a failed owner mail (default MAIL_RETRY_BASE_MS). */
  mailRetryBaseMs?: number;
}

/** Who the report is computed for by the digest job: every team. */
const SYSTEM_ACTOR: Actor = { id: 'system:digest', permissions: new Set(['*']), team: null, ip: null };

/**
 * Opens storage, applies migrations and checks the server secret against the one the store was
 * made with (a node with another secret could neither verify the audit chain nor sign webhooks,
 * so it refuses to start). The returned handle carries the audit chain's key.
 */
export async function openAndMigrate(config: Config, schema?: string, keys?: ServerKeys): Promise<Storage> {
  const serverKeys = keys ?? deriveServerKeys(resolveServerSecret(config));
  const storage = openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, schema });
  try {
    await migrate(storage, schema, serverKeys);
    if (!(await insertMeta(storage.db, 'secret.check', serverKeys.check))) {
      if ((await getMeta(storage.db, 'secret.check')) !== serverKeys.check) {
        throw new ConfigError(
          `KEYWARDEN_SECRET is not the secret this store was created with (${storage.location}): use the same secret on every node and keep it across restarts`,
        );
      }
    }
  } catch (err) {
    await storage.close();
    throw err;
  }
  storage.db = withAuditKey(storage.db, serverKeys.auditChain);
  return storage;
}

/** The composition root: config → adapters → services → HTTP app. */
export async function createKeywarden(config: Config, opts: CreateOptions = {}): Promise<Keywarden> {
  const log = opts.logger ?? createLogger(config.logLevel);
  const serverKeys = deriveServerKeys(resolveServerSecret(config));
  const metrics = new Metrics();
  // Opened first: a file that cannot be opened stops the start before anything else is.
  const events =
    config.verifyEvents === null || opts.usage !== undefined
      ? undefined
      : openVerifyEvents(config.verifyEvents, {
          dropped: (n) => {
            metrics.verifyEventsDropped.inc(n);
          },
          failed: (code, target) => {
            log.warn(
              { target, code },
              'verification event lines cannot be written: dropped (and counted) until a write succeeds',
            );
          },
          recovered: (dropped, target) => {
            log.warn({ target, dropped }, 'verification event lines are written again');
          },
          stalled: (seconds, target) => {
            log.warn(
              { target, seconds },
              'verification event lines wait: their reader has not read for a while (dropped past 10,000 waiting)',
            );
          },
          reopened: (target) => {
            log.info({ target }, 'verification event file moved or removed (rotated): writing a new one');
          },
        });
  const closers = new Closers();
  if (events !== undefined) closers.add(() => events.close());
  try {
    return await assemble(config, opts, { log, serverKeys, metrics, events, closers });
  } catch (err) {
    return closers.abandon(err);
  }
}

interface Opened {
  log: Logger;
  serverKeys: ServerKeys;
  metrics: Metrics;
  events: VerifyEventLines | undefined;
  /** Each step registers its undoing here, so a failed start closes what it opened. */
  closers: Closers;
}

async function assemble(config: Config, opts: CreateOptions, opened: Opened): Promise<Keywarden> {
  const { log, serverKeys, metrics, events, closers } = opened;
  const storage = await openAndMigrate(config, opts.schema ?? config.databaseSchema, serverKeys);
  closers.add(() => storage.close());
  const clock = opts.clock ?? systemClock;
  const local = new MemoryLimiter(() => clock.now());
  const redis =
    config.redisUrl === undefined
      ? undefined
      : await connectRedis(
          config.redisUrl,
          config.redisPrefix,
          local,
          config.rateLimitOnRedisFailure,
          metrics,
          log,
          { intervalMs: config.redisHealthIntervalMs, timeoutMs: config.redisHealthTimeoutMs },
        );
  if (redis !== undefined) closers.add(() => redis.close());
  const bus = opts.bus ?? redis?.bus ?? localBus;
  closers.add(() => bus.close());
  const limiter = opts.limiter ?? redis?.limiter ?? local;
  closers.add(() => limiter.close());
  const usage =
    opts.usage ??
    new UsageBatcher(
      createUsageWriter(storage, metrics, log, {
        inProcess: config.usageWriter === 'in-process',
        rowsPerTransaction: config.usageRowsPerTransaction,
        maxRowsPerMinute: config.logMaxRowsPerMinute,
      }),
      limiter,
      metrics,
      log,
      {
        flushIntervalMs: config.usageFlushMs,
        flushMaxMs: config.usageFlushMaxMs,
        writerBudgetNs: config.usageWriterBudgetNs,
        maxBufferedLogs: config.usageMaxBufferedLogs,
        maxRowsPerMinute: config.logMaxRowsPerMinute,
        events,
      },
    );
  // Flushed after the server stopped taking requests (closed after it), so the last verifications are written.
  closers.add(() => usage.close());
  const ctx: ServiceContext = {
    storage,
    cache: new MemoryVerificationCache({
      max: config.cacheMax,
      ttlMs: config.cacheTtlSeconds * 1000,
      negativeTtlMs: Math.min(config.cacheTtlSeconds, 60) * 1000,
      now: () => clock.now(),
    }),
    bus,
    clock,
    hasher: createHasher(config.pepper),
    digester: createDigester(config.pepper),
    prefix: config.keyPrefix,
    usage,
    limiter,
    events: nullEvents,
    metrics,
    log,
  };
  const admin = new AdminService(ctx, { ttlMs: config.adminCacheTtlSeconds * 1000 });
  const policies = new PolicyService(ctx);
  const imported = new ImportedKeys();
  await imported.refresh(storage.db);
  await ctx.bus.subscribe(
    (id) => {
      if (id.startsWith(ADMIN_ID_PREFIX)) admin.resetCache(id);
      else if (id === IMPORTED_SIGNAL) {
        // Another node imported keys: look such strings up from now on, and drop negative entries.
        imported.present = true;
        ctx.cache.clear();
      } else ctx.cache.invalidateKey(id);
    },
    () => {
      // Invalidations may have been missed: re-read every key before trusting it again, but keep
      // what was known for a storage outage (docs/failure-modes.md).
      ctx.cache.expireAll(ctx.clock.now());
      admin.resetCache();
      imported.refresh(storage.db).catch(() => undefined);
    },
  );
  const keys = new KeysService(ctx, policies);
  const webhooks = new WebhookService(ctx, {
    retryBaseMs: config.webhookRetryBaseMs,
    timeoutMs: 5000,
    secretsKey: serverKeys.webhookSecrets,
    allowPrivateTargets: config.webhookAllowPrivate,
    ...(opts.webhookResolve === undefined ? {} : { resolve: opts.webhookResolve }),
  });
  closers.add(() => {
    webhooks.stop();
  });
  // Owner mail (docs/notifications.md): only when both the SMTP server and the sender are set.
  const mail =
    config.smtpUrl !== undefined && config.mailFrom !== undefined
      ? new MailService(ctx, {
          smtpUrl: config.smtpUrl,
          from: config.mailFrom,
          publicUrl: config.publicUrl,
          digest: config.digest,
          retryBaseMs: opts.mailRetryBaseMs ?? MAIL_RETRY_BASE_MS,
        })
      : undefined;
  if (mail !== undefined) {
    closers.add(() => {
      mail.stop();
    });
  }
  ctx.events = withMail(webhooks, mail);
  const narrowing = new NarrowingService(ctx, keys, {
    settleMs: Math.max(config.usageFlushMs, config.usageFlushMaxMs) * 3,
  });
  const members = new MembersService(ctx);
  const sessions = new ConsoleSessions(ctx, admin, members, {
    idleMinutes: config.sessionIdleMinutes,
    maxHours: config.sessionMaxHours,
  });
  const oidc =
    config.oidcIssuer !== undefined &&
    config.oidcClientId !== undefined &&
    config.oidcClientSecret !== undefined &&
    config.publicUrl !== undefined
      ? new OidcSignIn(ctx, members, sessions, {
          issuer: config.oidcIssuer,
          clientId: config.oidcClientId,
          clientSecret: config.oidcClientSecret,
          publicUrl: config.publicUrl,
          groupsClaim: config.oidcGroupsClaim,
          roleMap: config.oidcRoleMap,
        })
      : undefined;
  const services: Services = {
    ctx,
    oidc,
    consoleKeySignIn: config.consoleKeySignIn,
    admin,
    keys,
    identities: new IdentitiesService(ctx),
    policies,
    webhooks,
    mail,
    sessions,
    members,
    sessionAuth: (req) => sessions.authenticate(req),
    governance: new GovernanceService(ctx, keys, admin, policies),
    narrowing,
    verifier: new Verifier(ctx, imported),
    roles: new RolesService(ctx, policies),
    imports: new ImportService(ctx, keys, imported),
    ready: async () => {
      try {
        await sql`select 1`.execute(storage.db);
        return true;
      } catch {
        return false;
      }
    },
    isStorageUnavailable,
  };
  const app = await buildApp(services, {
    logger: log,
    bodyLimitBytes: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    sessionMaxHours: config.sessionMaxHours,
    edge: config.edge,
    logRepeatIntervalMs: config.logRepeatIntervalMs,
  });
  closers.add(() => app.close());
  const jobs = new Jobs(ctx, {
    intervalSeconds: config.jobIntervalSeconds,
    logRetentionDays: config.logRetentionDays,
    extra: [
      ['webhook_events', async () => webhooks.scanEvents((await policies.get()).rotationWarningDays)],
      ['webhook_delivery', () => webhooks.deliverDue()],
      ['audit_anchor', () => webhooks.publishAuditAnchor()],
      ['narrowing_end', () => narrowing.finishDue()],
      ...(mail === undefined
        ? []
        : ([
            ['mail_scan', async () => mail.scan((await policies.get()).rotationWarningDays)],
            ['mail_digest', () => mail.digest(() => services.governance.report(SYSTEM_ACTOR))],
            ['mail_delivery', () => mail.deliverDue()],
          ] as [string, () => Promise<number>][])),
    ],
  });
  closers.add(() => {
    jobs.stop();
  });
  // Once: a second call (a signal during a test's own close, say) waits for the first.
  let closing: Promise<void> | undefined;
  return {
    app,
    services,
    storage,
    log,
    jobs,
    close() {
      closing ??= closers.closeAll();
      return closing;
    },
  };
}
