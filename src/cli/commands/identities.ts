import type { Command } from 'commander';
import type { IdentityPatch, IdentityRecord } from '../../core/identity.js';
import type { KeywardenClient } from '../../sdk/client.js';
import { clientFrom, confirm, print, printJson, table, UsageError, type GlobalOptions } from '../io.js';
import { keyBody } from './keys.js';

/** `keywarden identities create|list|show|update|delete` (docs/identities.md). */

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

interface IdentityFlags {
  externalId?: string;
  name?: string;
  team?: string;
  contact?: string;
  metadata?: string;
  ratelimit?: string[] | false;
  credits?: string | false;
  refill?: string;
}

/** The body from flags (only what was given); limits, credits, owner and metadata parse as for keys. */
function identityBody(f: IdentityFlags): IdentityPatch {
  const k = keyBody({
    team: f.team,
    contact: f.contact,
    metadata: f.metadata,
    ratelimit: f.ratelimit,
    credits: f.credits,
    refill: f.refill,
  });
  const b: IdentityPatch = {};
  if (f.externalId !== undefined) b.externalId = f.externalId;
  if (f.name !== undefined) b.name = f.name;
  if (k.owner !== undefined) b.owner = k.owner;
  if (k.ratelimits !== undefined) b.ratelimits = k.ratelimits;
  if (k.credits !== undefined) b.credits = k.credits;
  if (k.metadata !== undefined) b.metadata = k.metadata;
  return b;
}

function identityOptions(cmd: Command): Command {
  return cmd
    .option('--name <name>', 'display name')
    .option('--team <team>', 'owner team')
    .option('--contact <contact>', 'owner contact (person or mailbox)')
    .option('--metadata <json>', 'JSON object (≤ 8 KiB)')
    .option('--ratelimit <name:limit:window>', 'rate limit shared by its keys, repeatable', collect)
    .option('--credits <n>', 'credit balance shared by its keys')
    .option('--refill <amount:interval>', 'credit refill, e.g. 1000:monthly');
}

export function identityTable(i: IdentityRecord): string {
  return table(
    ['field', 'value'],
    [
      ['id', i.id],
      ['external id', i.externalId],
      ['name', i.name],
      ['owner', `${i.owner.team ?? '–'} <${i.owner.contact ?? '–'}>`],
      [
        'rate limits',
        i.ratelimits.map((r) => `${r.name}: ${r.limit}/${r.windowSeconds}s`).join(', ') || '(none)',
      ],
      [
        'credits',
        i.credits === null
          ? null
          : `${i.credits.remaining}${i.credits.refill ? ` (refill ${i.credits.refill.amount} ${i.credits.refill.interval})` : ''}`,
      ],
      ['created', `${i.createdAt} by ${i.createdBy ?? '–'}`],
      ['updated', i.updatedAt],
    ],
  );
}

/** An identity by id (idn_…) or by its external id. */
async function resolveIdentity(c: KeywardenClient, ref: string): Promise<string> {
  if (ref.startsWith('idn_')) return ref;
  const page = await c.listIdentities({ externalId: ref, limit: 1 });
  const found = page.items[0];
  if (found === undefined) throw new UsageError(`no identity with id or externalId "${ref}"`);
  return found.id;
}

export function identitiesCommand(program: Command): void {
  const ids = program
    .command('identities')
    .description("manage identities: a customer's limits shared by its keys");
  const g = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();

  identityOptions(
    ids
      .command('create')
      .description('create an identity')
      .requiredOption('--external-id <id>', "the customer's id in your systems (unique)"),
  ).action(async (f: IdentityFlags, cmd: Command) => {
    const o = g(cmd);
    const rec = await clientFrom(o).createIdentity({ ...identityBody(f), externalId: f.externalId ?? '' });
    if (o.json === true) printJson(rec);
    else print(identityTable(rec));
  });

  ids
    .command('list')
    .description('list identities (newest first)')
    .option('--team <team>')
    .option('--external-id <id>')
    .option('--q <text>', 'external id or name contains')
    .option('--limit <n>', 'page size', '50')
    .option('--cursor <cursor>')
    .option('--all', 'follow the cursor to the end')
    .action(async (f: Record<string, string | boolean | undefined>, cmd: Command) => {
      const o = g(cmd);
      const c = clientFrom(o);
      if (!/^\d+$/.test(String(f.limit)))
        throw new UsageError(`--limit must be a whole number, got "${String(f.limit)}"`);
      const query = {
        team: f.team as string | undefined,
        externalId: f.externalId as string | undefined,
        q: f.q as string | undefined,
        limit: Number(f.limit),
        cursor: f.cursor as string | undefined,
      };
      let page = await c.listIdentities(query);
      const items = [...page.items];
      while (f.all === true && page.nextCursor !== null) {
        page = await c.listIdentities({ ...query, cursor: page.nextCursor });
        items.push(...page.items);
      }
      if (o.json === true) {
        printJson({ items, nextCursor: page.nextCursor });
        return;
      }
      print(
        table(
          ['ID', 'EXTERNAL ID', 'NAME', 'OWNER', 'LIMITS', 'CREDITS'],
          items.map((i) => [
            i.id,
            i.externalId,
            i.name,
            i.owner.team,
            i.ratelimits.map((r) => `${r.limit}/${r.windowSeconds}s`).join(', '),
            i.credits?.remaining,
          ]),
        ),
      );
      print(
        `${items.length} identit${items.length === 1 ? 'y' : 'ies'}${page.nextCursor !== null ? ` — more: --cursor ${page.nextCursor}` : ''}`,
      );
    });

  ids
    .command('show <identity>')
    .description('one identity, by id (idn_…) or external id, with its usage over the last days')
    .option('--days <n>', 'usage days', '30')
    .action(async (ref: string, f: { days: string }, cmd: Command) => {
      const o = g(cmd);
      const c = clientFrom(o);
      const id = await resolveIdentity(c, ref);
      const [rec, usage] = await Promise.all([c.getIdentity(id), c.getIdentityUsage(id, Number(f.days))]);
      if (o.json === true) {
        printJson({ ...rec, usage });
        return;
      }
      print(identityTable(rec));
      const totals = Object.entries(usage.totals)
        .map(([code, n]) => `${code} ${n}`)
        .join(', ');
      print(`${usage.keys} key(s); last ${f.days} days: ${totals || 'no verifications'}`);
    });

  identityOptions(
    ids
      .command('update <identity>')
      .description('change an identity, by id or external id (only the flags given)')
      .option('--external-id <id>', 'a new external id'),
  )
    .option('--no-ratelimit', 'remove every rate limit')
    .option('--no-credits', 'no shared credit balance')
    .action(async (ref: string, f: IdentityFlags, cmd: Command) => {
      const o = g(cmd);
      const body = identityBody(f);
      if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give at least one flag');
      const c = clientFrom(o);
      const rec = await c.updateIdentity(await resolveIdentity(c, ref), body);
      if (o.json === true) printJson(rec);
      else print(identityTable(rec));
    });

  ids
    .command('delete <identity>')
    .description('delete an identity; its keys are unlinked and keep their own limits')
    .option('--yes', 'do not ask for confirmation')
    .action(async (ref: string, f: { yes?: boolean }, cmd: Command) => {
      const o = g(cmd);
      const c = clientFrom(o);
      const id = await resolveIdentity(c, ref);
      await confirm(`Delete identity ${id}? Its keys lose its shared limits.`, f.yes);
      const rec = await c.deleteIdentity(id);
      if (o.json === true) printJson(rec);
      else print(`deleted ${rec.id} (${rec.externalId}); ${rec.unlinkedKeys} key(s) unlinked`);
    });
}
