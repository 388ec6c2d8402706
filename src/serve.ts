import type { Config } from './config.js';
import { ConfigError } from './config.js';
import { KeywardenError } from './core/errors.js';
import { createLogger } from './logger.js';
import { createKeywarden, type Keywarden } from './main.js';
import type { Storage } from './storage/db.js';
import { getMeta } from './storage/meta-repo.js';

export async function isInitialized(storage: Storage): Promise<boolean> {
  return (await getMeta(storage.db, 'initialized')) !== undefined;
}

/**
 * `keywarden init`: creates the store and its root admin key, once. A second call refuses with
 * ALREADY_INITIALIZED and changes nothing.
 */
export async function initStore(config: Config): Promise<{ rootKey: string; dataDir: string }> {
  const kw = await createKeywarden(config, { logger: createLogger('silent') });
  try {
    const { key } = await kw.services.admin.initRoot();
    return { rootKey: key, dataDir: config.databaseUrl === undefined ? config.dataDir : kw.storage.location };
  } finally {
    await kw.close();
  }
}

/**
 * `keywarden serve`: initialises an empty store (printing the root key once, on stdout, never
 * through the logger), listens, and shuts down gracefully on SIGTERM/SIGINT.
 */
export async function serve(config: Config, out: (line: string) => void): Promise<Keywarden> {
  const kw = await createKeywarden(config);
  try {
    if (!(await isInitialized(kw.storage))) {
      try {
        const { key } = await kw.services.admin.initRoot();
        out(`Keywarden initialised a new store at ${kw.storage.location}.`);
        out(`Root admin key (shown once, store it now): ${key}`);
      } catch (err) {
        if (!(err instanceof KeywardenError && err.code === 'ALREADY_INITIALIZED')) throw err;
      }
    }
    await kw.app.listen({ port: config.port, host: config.host }).catch((err: unknown) => {
      throw listenError(err, config);
    });
  } catch (err) {
    // Nothing may stay open (the Redis connections would keep the process alive, not serving).
    await kw.close().catch(() => undefined);
    throw err;
  }
  kw.jobs.start();
  kw.services.webhooks.start();
  kw.services.mail?.start();
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    kw.log.info({ signal }, 'shutting down: finishing requests and flushing usage');
    kw.close().then(
      () => process.exit(0),
      (err: unknown) => {
        kw.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => {
    shutdown('SIGTERM');
  });
  process.once('SIGINT', () => {
    shutdown('SIGINT');
  });
  return kw;
}

/** A port in use or not ours to bind is the operator's to fix: said as a configuration error. */
function listenError(err: unknown, config: Config): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${config.host}:${String(config.port)}`;
  if (code === 'EADDRINUSE') {
    return new ConfigError(
      `cannot listen on ${where}: the address is in use (another process listens there); set KEYWARDEN_PORT or --port to a free port`,
    );
  }
  if (code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    return new ConfigError(
      `cannot listen on ${where} (${code}): ${code === 'EACCES' ? 'ports below 1024 need privileges' : 'no interface of this machine has that address'}; check KEYWARDEN_HOST and KEYWARDEN_PORT`,
    );
  }
  return err;
}
