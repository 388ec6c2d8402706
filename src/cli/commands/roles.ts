import type { Command } from 'commander';
import type { Role } from '../../sdk/client.js';
import { clientFrom, confirm, print, printJson, table, UsageError, type GlobalOptions } from '../io.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function roleTable(r: Role): string {
  return table(
    ['field', 'value'],
    [
      ['name', r.name],
      ['description', r.description],
      ['permissions', r.permissions.join(', ') || '(none)'],
      ['keys holding it', r.keys],
      ['created', `${r.createdAt} by ${r.createdBy ?? '–'}`],
      ['updated', r.updatedAt],
    ],
  );
}

/** `keywarden roles create|list|show|update|delete` (docs/roles.md). */
export function rolesCommand(program: Command): void {
  const roles = program.command('roles').description('manage roles: named permission sets keys hold');
  const g = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();
  const show = (o: GlobalOptions, r: Role): void => {
    if (o.json === true) printJson(r);
    else print(roleTable(r));
  };

  roles
    .command('create <name>')
    .description('create a role (global admin keys with keys:write)')
    .option('--permission <perm>', 'resource:action[:id], repeatable', collect)
    .option('--description <text>')
    .action(async (name: string, f: { permission?: string[]; description?: string }, cmd: Command) => {
      const o = g(cmd);
      show(
        o,
        await clientFrom(o).createRole({
          name,
          permissions: f.permission ?? [],
          ...(f.description === undefined ? {} : { description: f.description }),
        }),
      );
    });

  roles
    .command('list')
    .description('list roles with how many keys hold each')
    .action(async (_f: unknown, cmd: Command) => {
      const o = g(cmd);
      const { items } = await clientFrom(o).listRoles();
      if (o.json === true) {
        printJson({ items });
        return;
      }
      print(
        table(
          ['NAME', 'PERMISSIONS', 'KEYS', 'DESCRIPTION'],
          items.map((r) => [r.name, r.permissions.join(', '), r.keys, r.description]),
        ),
      );
      print(`${items.length} role(s)`);
    });

  roles
    .command('show <name>')
    .description('one role')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const o = g(cmd);
      show(o, await clientFrom(o).getRole(name));
    });

  roles
    .command('update <name>')
    .description('change a role: every key holding it follows at once (policy checked on each)')
    .option('--permission <perm>', 'the new permission list (replaces it), repeatable', collect)
    .option('--add-permission <perm>', 'add to the current permissions, repeatable', collect)
    .option('--remove-permission <perm>', 'remove from the current permissions, repeatable', collect)
    .option('--description <text>')
    .action(
      async (
        name: string,
        f: {
          permission?: string[];
          addPermission?: string[];
          removePermission?: string[];
          description?: string;
        },
        cmd: Command,
      ) => {
        const o = g(cmd);
        const c = clientFrom(o);
        const edits = f.addPermission !== undefined || f.removePermission !== undefined;
        if (edits && f.permission !== undefined)
          throw new UsageError(
            'give --permission (replaces the list) or --add/--remove-permission, not both',
          );
        let permissions = f.permission;
        if (edits) {
          const current = (await c.getRole(name)).permissions;
          const remove = new Set(f.removePermission ?? []);
          const kept = current.filter((p) => !remove.has(p));
          permissions = [...kept, ...(f.addPermission ?? []).filter((p) => !kept.includes(p))];
        }
        if (permissions === undefined && f.description === undefined)
          throw new UsageError(
            'nothing to change: give --permission, --add/--remove-permission or --description',
          );
        show(
          o,
          await c.updateRole(name, {
            ...(permissions === undefined ? {} : { permissions }),
            ...(f.description === undefined ? {} : { description: f.description }),
          }),
        );
      },
    );

  roles
    .command('delete <name>')
    .description('delete a role no key holds (asks on a terminal unless --yes)')
    .option('--yes', 'do not ask for confirmation')
    .action(async (name: string, f: { yes?: boolean }, cmd: Command) => {
      const o = g(cmd);
      await confirm(`Delete role ${name}?`, f.yes);
      const r = await clientFrom(o).deleteRole(name);
      if (o.json === true) printJson(r);
      else print(`role ${r.name} is deleted`);
    });
}
