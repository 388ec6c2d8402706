import { Option, type Command } from 'commander';
import { clientFrom, print, printJson, Refused, type GlobalOptions } from '../io.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** `keywarden verify <key>`: exit 0 when VALID, 1 otherwise. */
export function verifyCommand(program: Command): void {
  program
    .command('verify <key>')
    .description('ask whether a key may do something (exit 0 only when VALID)')
    .addOption(
      new Option('--environment <env>')
        .choices(['production', 'staging', 'development'])
        .makeOptionMandatory(),
    )
    .option('--permission <perm>', 'required permission, repeatable', collect)
    .option('--resource <id>', 'resource id the permission is narrowed to')
    .option('--ip <ip>', "the client's IP")
    .option('--cost <n>', 'credits to spend', '1')
    .action(
      async (
        key: string,
        f: { environment: string; permission?: string[]; resource?: string; ip?: string; cost: string },
        cmd: Command,
      ) => {
        const o = cmd.optsWithGlobals<GlobalOptions>();
        const r = await clientFrom(o).verify({
          key,
          environment: f.environment as 'production',
          ...(f.permission !== undefined ? { permissions: f.permission } : {}),
          ...(f.resource !== undefined ? { resource: f.resource } : {}),
          ...(f.ip !== undefined ? { ip: f.ip } : {}),
          cost: Number(f.cost),
        });
        if (o.json === true) printJson(r);
        else {
          print(`${r.code}${r.detail !== undefined ? `: ${r.detail}` : ''}`);
          if (r.keyId !== undefined)
            print(
              `key ${r.name ?? ''} (${r.keyId}), ${r.environment ?? ''}, customer ${r.customerId ?? '–'}`,
            );
          if (r.ratelimit)
            print(
              `rate limit ${r.ratelimit.name}: ${r.ratelimit.remaining}/${r.ratelimit.limit} left, resets ${r.ratelimit.resetAt}`,
            );
          if (r.credits) print(`credits left: ${r.credits.remaining}`);
        }
        if (!r.valid) throw new Refused(r.code);
      },
    );
}
