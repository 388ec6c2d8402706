import type { Command } from 'commander';
import type { Narrowing } from '../../sdk/client.js';
import { clientFrom, print, printJson, table, UsageError, type GlobalOptions } from '../io.js';
import { resolveKey } from './keys.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function show(n: Narrowing): void {
  print(`Narrowing of ${n.keyId} to [${n.permissions.join(', ')}]: ${n.state}`);
  print(
    `  period            ${n.startedAt} – ${n.endsAt}${n.autoApply ? ' (applied if nothing is refused)' : ''}`,
  );
  print(`  would have refused ${n.wouldHaveRefused} calls`);
  if (n.examples.length > 0) {
    print();
    print(
      table(
        ['Last call', 'Permission', 'Resource', 'IP', 'Calls'],
        n.examples.map((e) => [e.lastAt, e.permission, e.resource, e.ip, e.count]),
      ),
    );
  }
}

/** `keywarden keys narrowing start|show|cancel` (docs/narrowing.md). */
export function narrowingCommand(keys: Command): void {
  const g = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();
  const narrowing = keys
    .command('narrowing')
    .description('narrow a key safely: try a narrower permission set in the shadow first');

  narrowing
    .command('start <key>')
    .description('start a shadow period for a narrower set, by key id or name')
    .requiredOption('--permission <perm>', 'a permission of the narrower set, repeatable', collect)
    .option('--days <n>', 'length of the shadow period in days (1–90)', '14')
    .option('--auto-apply', 'apply the narrower set when the period ends with nothing refused')
    .action(
      async (ref: string, f: { permission: string[]; days: string; autoApply?: boolean }, cmd: Command) => {
        const o = g(cmd);
        if (!/^\d+$/.test(f.days))
          throw new UsageError(`--days must be a whole number of days, got "${f.days}"`);
        const c = clientFrom(o);
        const n = await c.startNarrowing(await resolveKey(c, ref), {
          permissions: f.permission,
          days: Number(f.days),
          ...(f.autoApply === true ? { autoApply: true } : {}),
        });
        if (o.json === true) {
          printJson(n);
          return;
        }
        show(n);
      },
    );

  narrowing
    .command('show <key>')
    .description("a key's narrowing and the calls it would have refused")
    .action(async (ref: string, _f: unknown, cmd: Command) => {
      const o = g(cmd);
      const c = clientFrom(o);
      const n = await c.getNarrowing(await resolveKey(c, ref));
      if (o.json === true) {
        printJson(n);
        return;
      }
      show(n);
    });

  narrowing
    .command('cancel <key>')
    .description("cancel a key's narrowing (the key keeps its permissions)")
    .action(async (ref: string, _f: unknown, cmd: Command) => {
      const o = g(cmd);
      const c = clientFrom(o);
      const id = await resolveKey(c, ref);
      await c.cancelNarrowing(id);
      if (o.json === true) {
        printJson({ keyId: id, cancelled: true });
        return;
      }
      print(`The narrowing of ${id} is cancelled; the key keeps its permissions.`);
    });
}
