import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.js';
import { KeywardenError } from '../core/errors.js';
import { KeywardenApiError, KeywardenConnectionError } from '../sdk/client.js';
import { drillCommand } from './commands/drill.js';
import { keysCommand } from './commands/keys.js';
import { recordCommands } from './commands/records.js';
import { scanCommand } from './commands/scan.js';
import { serverCommands } from './commands/server.js';
import { verifyCommand } from './commands/verify.js';
import { printErr, Refused, UsageError } from './io.js';

function program(): Command {
  const p = new Command('keywarden')
    .description('Keywarden: governed API keys for programs')
    .version('0.1.0')
    .option('--url <url>', 'server URL (env KEYWARDEN_URL, default http://127.0.0.1:8080)')
    .option('--admin-key <key>', 'admin key (env KEYWARDEN_ADMIN_KEY)')
    .option('--json', 'print JSON instead of tables')
    .exitOverride()
    .showHelpAfterError();
  serverCommands(p);
  keysCommand(p);
  verifyCommand(p);
  recordCommands(p);
  scanCommand(p);
  drillCommand(p);
  // Sub-commands inherit the override so their usage errors also come back as exceptions.
  const walk = (c: Command): void => {
    c.exitOverride();
    c.commands.forEach(walk);
  };
  walk(p);
  return p;
}

/**
 * Runs the CLI and returns the exit code: 0 ok, 1 refused (an API problem, verify not VALID,
 * findings with --fail-on-findings), 2 usage or configuration errors (bad flags, no admin key,
 * unreachable server, invalid environment variables).
 */
export async function run(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0
        ? 0
        : 2;
    }
    if (err instanceof Refused) return 1;
    if (err instanceof KeywardenApiError) {
      printErr(`error: ${err.detail} (${err.code})`);
      return 1;
    }
    if (err instanceof KeywardenError) {
      printErr(`error: ${err.detail} (${err.code})`);
      return 1;
    }
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof KeywardenConnectionError) {
      printErr(`error: ${err.message}`);
      return 2;
    }
    printErr(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
