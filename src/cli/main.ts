import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.js';
import { KeywardenError } from '../core/errors.js';
import { KeywardenApiError, KeywardenConnectionError } from '../sdk/client.js';
import { drillCommand } from './commands/drill.js';
import { operatorCommands } from './commands/operator.js';
import { identitiesCommand } from './commands/identities.js';
import { keysCommand } from './commands/keys.js';
import { memberCommands } from './commands/members.js';
import { notificationsCommand } from './commands/notifications.js';
import { policyCommand } from './commands/policy.js';
import { recordCommands } from './commands/records.js';
import { scanCommand } from './commands/scan.js';
import { serverCommands } from './commands/server.js';
import { verifyCommand } from './commands/verify.js';
import { importCommand } from './commands/import.js';
import { rolesCommand } from './commands/roles.js';
import { exitQuietlyOnClosedPipe, output, printErr, Refused, UsageError } from './io.js';

function program(json: boolean): Command {
  const p = new Command('keywarden')
    .description('Keywarden: governed API keys for programs')
    .version('0.1.0')
    .option('--url <url>', 'server URL (env KEYWARDEN_URL, default http://127.0.0.1:8080)')
    .option('--admin-key <key>', 'admin key (env KEYWARDEN_ADMIN_KEY)')
    .option('--json', 'print JSON instead of tables (errors too, as problem objects)')
    .exitOverride()
    // Inherited by the sub-commands created below: their help lists the global options too.
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (str: string) => {
        output.out(str);
      },
      writeErr: (str: string) => {
        output.err(str);
      },
      // Under --json, commander's own usage errors are problem objects like the others.
      outputError: (str: string, write: (s: string) => void) => {
        write(json ? `${JSON.stringify(usageProblem(str.replace(/^error: /, '').trim()))}\n` : str);
      },
    });
  if (!json) p.showHelpAfterError();
  serverCommands(p);
  keysCommand(p);
  identitiesCommand(p);
  importCommand(p);
  rolesCommand(p);
  verifyCommand(p);
  recordCommands(p);
  policyCommand(p);
  notificationsCommand(p);
  memberCommands(p);
  scanCommand(p);
  drillCommand(p);
  operatorCommands(p);
  // Sub-commands inherit the override so their usage errors also come back as exceptions.
  const walk = (c: Command): void => {
    c.exitOverride();
    deferMandatoryOptions(c);
    c.commands.forEach(walk);
  };
  walk(p);
  return p;
}

/**
 * Commander checks mandatory options before unknown ones, so `keys create --nmae x` said
 * "required option '--name' not specified". The mandatory check is moved to a preAction hook,
 * which runs after the unknown-option check: a typo is reported as unknown (with a suggestion).
 */
function deferMandatoryOptions(c: Command): void {
  const mandatory = c.options.filter((o) => o.mandatory);
  if (mandatory.length === 0) return;
  for (const o of mandatory) o.mandatory = false;
  c.hook('preAction', (cmd) => {
    for (const o of mandatory) {
      if (cmd.getOptionValue(o.attributeName()) === undefined) {
        cmd.error(`error: required option '${o.flags}' not specified`, {
          exitCode: 1,
          code: 'commander.missingMandatoryOptionValue',
        });
      }
    }
  });
}

/**
 * Runs the CLI and returns the exit code: 0 ok, 1 refused (an API problem, verify not VALID,
 * findings with --fail-on-findings), 2 usage or configuration errors (bad flags, no admin key,
 * unreachable server, invalid environment variables).
 */
export async function run(argv: string[]): Promise<number> {
  exitQuietlyOnClosedPipe();
  const json = argv.includes('--json');
  const fail = (p: Problem, exit: number): number => {
    printErr(json ? JSON.stringify(p) : `error: ${p.detail}${p.code === 'USAGE' ? '' : ` (${p.code})`}`);
    return exit;
  };
  try {
    await program(json).parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0
        ? 0
        : 2;
    }
    if (err instanceof Refused) return 1;
    if (err instanceof KeywardenApiError) {
      return fail(
        {
          type: `urn:keywarden:problem:${err.code.toLowerCase()}`,
          title: err.title,
          status: err.status,
          detail: err.detail,
          code: err.code,
          ...(err.requestId === undefined ? {} : { requestId: err.requestId }),
        },
        1,
      );
    }
    if (err instanceof KeywardenError) {
      return fail(
        { type: `urn:keywarden:problem:${err.code.toLowerCase()}`, detail: err.detail, code: err.code },
        1,
      );
    }
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof TypeError) {
      return fail(usageProblem(err.message.replace(/^Keywarden client: /, '')), 2);
    }
    if (err instanceof KeywardenConnectionError) {
      return fail({ type: 'urn:keywarden:problem:unreachable', detail: err.message, code: 'UNREACHABLE' }, 2);
    }
    return fail(
      {
        type: 'urn:keywarden:problem:internal',
        detail: err instanceof Error ? err.message : String(err),
        code: 'INTERNAL',
      },
      1,
    );
  }
}

interface Problem {
  type: string;
  title?: string;
  status?: number;
  detail: string;
  code: string;
  requestId?: string;
}

function usageProblem(detail: string): Problem {
  return { type: 'urn:keywarden:problem:usage', title: 'usage error', detail, code: 'USAGE' };
}
