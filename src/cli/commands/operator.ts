import { existsSync, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { createLogger } from '../../logger.js';
import { createKeywarden } from '../../main.js';
import { confirm, print, printJson, Refused, showSecret, UsageError } from '../io.js';

/**
 * Operator commands that work on the store itself (no server, no admin key): `keywarden backup`
 * and `keywarden admin-keys recover-root`. Access to the data directory (or the database URL) is
 * the authority, as for `keywarden init`.
 */
export function operatorCommands(program: Command): void {
  program
    .command('backup <file>')
    .description(
      'copy the SQLite store to <file>, consistently, while the server runs (PostgreSQL: use pg_dump)',
    )
    .option('--force', 'overwrite <file> if it exists')
    .action(async (file: string, o: { force?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<{ json?: boolean }>();
      const config = loadConfig();
      if (config.databaseUrl !== undefined) {
        throw new UsageError(
          'KEYWARDEN_DATABASE_URL is set: back up PostgreSQL with pg_dump (see docs/operations.md)',
        );
      }
      const source = join(config.dataDir, 'keywarden.db');
      if (!existsSync(source)) throw new UsageError(`no store at ${source} (check KEYWARDEN_DATA_DIR)`);
      const target = resolve(file);
      if (target === resolve(source)) throw new UsageError('the backup file cannot be the store itself');
      if (existsSync(target) && o.force !== true) {
        throw new UsageError(`${target} exists: choose another file or pass --force`);
      }
      // SQLite's online backup API: a consistent snapshot, page by page, while the server
      // keeps reading and writing (WAL); it restarts by itself if a write lands mid-copy.
      const db = new Database(source, { fileMustExist: true });
      try {
        db.pragma('busy_timeout = 5000');
        await db.backup(target);
      } finally {
        db.close();
      }
      const copy = new Database(target, { readonly: true, fileMustExist: true });
      let check: unknown;
      try {
        check = copy.pragma('integrity_check', { simple: true });
      } finally {
        copy.close();
      }
      if (check !== 'ok') {
        print(`error: the copy at ${target} failed its integrity check (${String(check)})`);
        throw new Refused('integrity check failed');
      }
      const bytes = statSync(target).size;
      if (g.json === true) {
        printJson({ file: target, source, bytes, integrity: 'ok' });
        return;
      }
      print(`Backed up ${source} to ${target} (${bytes} bytes, integrity ok).`);
    });

  const admins = program.commands.find((c) => c.name() === 'admin-keys');
  if (admins === undefined) throw new Error('the admin-keys command must be registered first');
  admins
    .command('recover-root')
    .description(
      'create a new root (*) admin key directly in the store, for an operator who lost every root key (audited)',
    )
    .option('--reason <text>', 'why, recorded in the audit log', 'lost root key')
    .option('--yes', 'do not ask for confirmation')
    .action(async (o: { reason: string; yes?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<{ json?: boolean }>();
      const config = loadConfig();
      const where = config.databaseUrl === undefined ? config.dataDir : 'KEYWARDEN_DATABASE_URL';
      await confirm(`Create a new root admin key (permissions *) in the store at ${where}?`, o.yes);
      const kw = await createKeywarden(config, { logger: createLogger('silent') });
      try {
        const operator = `${userInfo().username}@${hostname()}`;
        const { key, record } = await kw.services.admin.recoverRoot(operator, o.reason);
        if (g.json === true) {
          printJson({ key, record });
          return;
        }
        showSecret(`New root admin key ${record.id} (permissions: *)`, key);
        print(
          'Audited as admin_key.recover_root. Disable the lost key(s) with `keywarden admin-keys delete <id>`.',
        );
      } finally {
        await kw.close();
      }
    });
}
