import type { Command } from 'commander';
import { isMemberRole, MEMBER_ROLES, type MemberRecord, type MemberRole } from '../../core/members.js';
import type { KeywardenClient } from '../../sdk/client.js';
import { clientFrom, confirm, print, printJson, table, UsageError, type GlobalOptions } from '../io.js';

function role(v: string): MemberRole {
  if (!isMemberRole(v))
    throw new UsageError(`the role must be one of ${MEMBER_ROLES.join(', ')}, got "${v}"`);
  return v;
}

const line = (m: MemberRecord): string =>
  `${m.email} (${m.id}): ${m.role}${m.team !== null ? `, team ${m.team}` : ''}`;

/** A member by id (`mem_…`) or by email (looked up among the members the admin key sees). */
async function resolve(client: KeywardenClient, who: string): Promise<MemberRecord> {
  if (!who.includes('@')) return client.getMember(who);
  const email = who.trim().toLowerCase();
  let cursor: string | undefined;
  do {
    const page = await client.listMembers({ limit: 500, ...(cursor === undefined ? {} : { cursor }) });
    const found = page.items.find((m) => m.email === email);
    if (found !== undefined) return found;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  throw new UsageError(`no member with email ${email}`);
}

/** `keywarden members add|list|remove|set-role` (admin:manage). */
export function memberCommands(program: Command): void {
  const members = program
    .command('members')
    .description('people who sign in to the console (admin:manage): roles owner, admin, operator, auditor');
  members
    .command('add <email>')
    .description('add a member with a role')
    .requiredOption('--role <role>', MEMBER_ROLES.join(' | '), role)
    .option('--name <name>')
    .option('--team <team>', 'limit the member to one owner team')
    .action(async (email: string, f: { role: MemberRole; name?: string; team?: string }, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const m = await clientFrom(o).createMember({
        email,
        role: f.role,
        ...(f.name === undefined ? {} : { name: f.name }),
        ...(f.team === undefined ? {} : { team: f.team }),
      });
      if (o.json === true) printJson(m);
      else print(`added ${line(m)}`);
    });
  members
    .command('list')
    .option('--limit <n>', 'page size', '50')
    .option('--cursor <cursor>')
    .action(async (f: { limit: string; cursor?: string }, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const page = await clientFrom(o).listMembers({ limit: f.limit, cursor: f.cursor });
      if (o.json === true) {
        printJson(page);
        return;
      }
      print(
        table(
          ['ID', 'EMAIL', 'NAME', 'ROLE', 'TEAM', 'SOURCE', 'LAST SIGN-IN'],
          page.items.map((m) => [m.id, m.email, m.name, m.role, m.team, m.source, m.lastSignInAt]),
        ),
      );
      if (page.nextCursor !== null) print(`more: --cursor ${page.nextCursor}`);
    });
  members
    .command('remove <id-or-email>')
    .description('remove a member; their console sessions end at once (asks on a terminal unless --yes)')
    .option('--yes', 'do not ask for confirmation')
    .action(async (who: string, f: { yes?: boolean }, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const client = clientFrom(o);
      const m = await resolve(client, who);
      await confirm(`Remove member ${m.email}? Their console sessions end at once.`, f.yes);
      const r = await client.deleteMember(m.id);
      if (o.json === true) printJson(r);
      else print(`removed ${line(r)}`);
    });
  members
    .command('set-role <id-or-email> <role>')
    .description("change a member's role (and team with --team; --global removes the team)")
    .option('--team <team>')
    .option('--global', 'no team: the member acts on every team')
    .action(async (who: string, r: string, f: { team?: string; global?: boolean }, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      if (f.team !== undefined && f.global === true)
        throw new UsageError('--team and --global exclude each other');
      const client = clientFrom(o);
      const m = await resolve(client, who);
      const team = f.global === true ? { team: null } : f.team === undefined ? {} : { team: f.team };
      const updated = await client.updateMember(m.id, { role: role(r), ...team });
      if (o.json === true) printJson(updated);
      else print(`${line(updated)} (was ${m.role}${m.team !== null ? `, team ${m.team}` : ''})`);
    });
}
