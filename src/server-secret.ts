import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Config } from './config.js';
import { SECRET_MIN_LENGTH, generateSecret } from './core/secrets.js';

/** Where a SQLite store keeps the server secret it generated (mode 0600), beside the database. */
export const SECRET_FILE = 'keywarden.secret';

/**
 * The server secret: `KEYWARDEN_SECRET` when set. With PostgreSQL it is required (every node must
 * hold the same one, and no node's disk is the store's). On SQLite, when unset, the data
 * directory's secret file, generated on first start (`init`, or `serve` on an empty store, or the
 * first start after an upgrade) and read on every later start.
 */
export function resolveServerSecret(config: Config): string {
  if (config.secret !== undefined) return config.secret;
  if (config.databaseUrl !== undefined) {
    throw new ConfigError(
      `KEYWARDEN_SECRET is required with PostgreSQL (KEYWARDEN_DATABASE_URL): set the same secret of at least ${SECRET_MIN_LENGTH} characters on every node`,
    );
  }
  mkdirSync(config.dataDir, { recursive: true });
  const file = join(config.dataDir, SECRET_FILE);
  try {
    // 'wx': exclusive create, so two processes initialising the same directory keep one secret.
    writeFileSync(file, `${generateSecret()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // Like ssh with its private keys: a secret others can read is not a secret.
  if ((statSync(file).mode & 0o077) !== 0) {
    throw new ConfigError(
      `${file} is readable by other users: chmod 600 it (or set KEYWARDEN_SECRET instead)`,
    );
  }
  const secret = readFileSync(file, 'utf8').trim();
  if (secret.length < SECRET_MIN_LENGTH) {
    throw new ConfigError(`${file} must hold a secret of at least ${SECRET_MIN_LENGTH} characters`);
  }
  return secret;
}
