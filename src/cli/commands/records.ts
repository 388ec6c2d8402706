import type { Command } from 'commander';
import { SECTIONS } from '../../core/governance.js';
import {
  clientFrom,
  confirm,
  print,
  printJson,
  Refused,
  showSecret,
  table,
  type GlobalOptions,
} from '../io.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** `keywarden audit`, `keywarden admin-keys`, `keywarden report`. */
export function recordCommands(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('list', { isDefault: true })
    .description('admin actions, newest first')
    .option('--action <action>')
    .option('--actor <id>')
    .option('--target <id>')
    .option('--from <iso>')
    .option('--to <iso>')
    .option('--limit <n>', 'page size', '50')
    .option('--cursor <cursor>')
    .action(async (f: Record<string, string | undefined>, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const page = await clientFrom(o).listAudit({ ...f, limit: f.limit });
      if (o.json === true) {
        printJson(page);
        return;
      }
      print(
        table(
          ['ID', 'AT', 'ACTOR', 'ACTION', 'TARGET', 'IP'],
          page.items.map((e) => [
            e.id as number,
            e.at as string,
            e.actor as string,
            e.action as string,
            e.target as string,
            e.ip as string,
          ]),
        ),
      );
      if (page.nextCursor !== null) print(`more: --cursor ${page.nextCursor}`);
    });
  audit
    .command('anchor')
    .description(
      'print the chain head as one JSON line (append it to a file kept elsewhere: >> anchors.jsonl)',
    )
    .action(async (_f: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      // One compact line whatever --json says, so `>> file` builds a JSON-lines file.
      print(JSON.stringify(await clientFrom(o).auditHead()));
    });
  audit
    .command('verify')
    .description('re-compute the hash chain (exit 1 when broken)')
    .option('--anchor <seq:hash>', 'also require the chain to hold this head (from `audit anchor`)')
    .action(async (f: { anchor?: string }, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const r = await clientFrom(o).verifyAudit(f.anchor);
      if (o.json === true) printJson(r);
      else
        print(
          r.ok
            ? `audit chain intact: ${r.entries} entries`
            : `audit chain BROKEN at entry ${r.brokenAt ?? '?'} (${r.entries} checked)`,
        );
      if (!r.ok) throw new Refused('audit chain broken');
    });

  const admins = program.command('admin-keys').description('admin keys (admin:manage)');
  admins
    .command('create')
    .requiredOption('--name <name>')
    .requiredOption(
      '--permission <perm>',
      'admin permission (keys:read, keys:write, …, *), repeatable',
      collect,
    )
    .option('--team <team>', 'limit the key to one owner team')
    .option('--expires-at <iso>')
    .action(
      async (f: { name: string; permission: string[]; team?: string; expiresAt?: string }, cmd: Command) => {
        const o = cmd.optsWithGlobals<GlobalOptions>();
        const r = await clientFrom(o).createAdminKey({
          name: f.name,
          permissions: f.permission,
          team: f.team ?? null,
          expiresAt: f.expiresAt ?? null,
        });
        if (o.json === true) {
          printJson(r);
          return;
        }
        print(
          `${r.record.name} (${r.record.id}): ${r.record.permissions.join(', ')}${r.record.team !== null ? `, team ${r.record.team}` : ''}`,
        );
        showSecret('Admin key', r.key);
      },
    );
  admins.command('list').action(async (_f: unknown, cmd: Command) => {
    const o = cmd.optsWithGlobals<GlobalOptions>();
    const page = await clientFrom(o).listAdminKeys();
    if (o.json === true) {
      printJson(page);
      return;
    }
    print(
      table(
        ['ID', 'NAME', 'PERMISSIONS', 'TEAM', 'STATUS', 'KEY'],
        page.items.map((a) => [
          a.id,
          a.name,
          a.permissions.join(', '),
          a.team,
          a.status,
          `${a.start}…${a.end}`,
        ]),
      ),
    );
  });
  admins
    .command('delete <id>')
    .description('delete an admin key (asks on a terminal unless --yes)')
    .option('--yes', 'do not ask for confirmation')
    .action(async (id: string, f: { yes?: boolean }, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      await confirm(`Delete admin key ${id}? Programs using it are refused at once.`, f.yes);
      const r = await clientFrom(o).deleteAdminKey(id);
      if (o.json === true) {
        printJson(r);
        return;
      }
      print(`${r.name} (${r.id}) is deleted`);
    });

  program
    .command('report')
    .description(
      'the governance report: unowned, stale, over-privileged, test keys in production, rotation due, shared, non-compliant',
    )
    .option('--fail-on-findings', 'exit 1 when any section is non-empty (for cron/CI)')
    .action(async (f: { failOnFindings?: boolean }, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const r = await clientFrom(o).governanceReport();
      const counts = SECTIONS.map((s) => [s, (r[s] as unknown[]).length] as const);
      if (o.json === true) printJson(r);
      else {
        for (const [s, n] of counts) {
          if (n === 0) continue;
          print(`\n${s} (${n})`);
          const items = r[s] as { keyId: string; name: string; environment: string; reason: string }[];
          print(
            table(
              ['KEY', 'NAME', 'ENV', 'REASON'],
              items.map((i) => [i.keyId, i.name, i.environment, i.reason]),
            ),
          );
        }
        print(`\n${counts.map(([s, n]) => `${s}: ${n}`).join(', ')}`);
      }
      if (f.failOnFindings === true && counts.some(([, n]) => n > 0)) throw new Refused('findings');
    });
}
