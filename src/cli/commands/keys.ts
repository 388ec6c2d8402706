import { Command, Option } from 'commander';
import type { KeyInput } from '../../sdk/client.js';
import {
  clientFrom,
  keysTable,
  keyTable,
  print,
  printJson,
  showSecret,
  UsageError,
  type GlobalOptions,
} from '../io.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

interface KeyFlags {
  name?: string;
  environment?: string;
  system?: string;
  purpose?: string;
  team?: string;
  contact?: string;
  customer?: string;
  permission?: string[];
  ip?: string[];
  expiresAt?: string;
  expiresIn?: string;
  metadata?: string;
  ratelimit?: string[];
  credits?: string;
  refill?: string;
}

/** `90d`, `12h`, `30m`, `45s` → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)\s*(d|h|m|s)$/.exec(text.trim());
  if (m === null) throw new UsageError(`--expires-in "${text}" is not a duration like 90d, 12h, 30m`);
  return Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[m[2] as 'd' | 'h' | 'm' | 's'];
}

function int(flag: string, v: string): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`${flag} must be a whole number, got "${v}"`);
  return Number(v);
}

/** Builds a create/patch body from flags: only what was given is sent. */
export function keyBody(f: KeyFlags): Partial<KeyInput> {
  const b: Partial<KeyInput> = {};
  if (f.name !== undefined) b.name = f.name;
  if (f.system !== undefined) b.system = f.system;
  if (f.purpose !== undefined) b.purpose = f.purpose;
  if (f.team !== undefined || f.contact !== undefined) {
    b.owner = {
      ...(f.team !== undefined ? { team: f.team } : {}),
      ...(f.contact !== undefined ? { contact: f.contact } : {}),
    };
  }
  if (f.customer !== undefined) b.customerId = f.customer;
  if (f.permission !== undefined) b.permissions = f.permission;
  if (f.ip !== undefined) b.ipAllowlist = f.ip;
  if (f.expiresAt !== undefined && f.expiresIn !== undefined)
    throw new UsageError('give --expires-at or --expires-in, not both');
  if (f.expiresAt !== undefined) b.expiresAt = f.expiresAt;
  if (f.expiresIn !== undefined)
    b.expiresAt = new Date(Date.now() + parseDuration(f.expiresIn)).toISOString();
  if (f.metadata !== undefined) {
    let m: unknown;
    try {
      m = JSON.parse(f.metadata);
    } catch {
      throw new UsageError('--metadata must be a JSON object');
    }
    if (typeof m !== 'object' || m === null || Array.isArray(m))
      throw new UsageError('--metadata must be a JSON object');
    b.metadata = m as Record<string, unknown>;
  }
  if (f.ratelimit !== undefined) {
    b.ratelimits = f.ratelimit.map((r) => {
      const [name, limit, window] = r.split(':');
      if (name === undefined || limit === undefined || window === undefined) {
        throw new UsageError(`--ratelimit "${r}" must be name:limit:windowSeconds`);
      }
      return {
        name,
        limit: int('--ratelimit limit', limit),
        windowSeconds: int('--ratelimit window', window),
      };
    });
  }
  if (f.credits !== undefined || f.refill !== undefined) {
    if (f.credits === undefined) throw new UsageError('--refill needs --credits');
    let refill: { amount: number; interval: 'daily' | 'monthly' } | null = null;
    if (f.refill !== undefined) {
      const [amount, interval] = f.refill.split(':');
      if (amount === undefined || (interval !== 'daily' && interval !== 'monthly')) {
        throw new UsageError(`--refill "${f.refill}" must be amount:daily or amount:monthly`);
      }
      refill = { amount: int('--refill amount', amount), interval };
    }
    b.credits = { remaining: int('--credits', f.credits), refill };
  }
  return b;
}

function keyOptions(cmd: Command): Command {
  return cmd
    .option('--system <system>', 'the calling system')
    .option('--purpose <purpose>', 'what the key is for')
    .option('--team <team>', 'owner team')
    .option('--contact <contact>', 'owner contact (person or mailbox)')
    .option('--customer <id>', 'customer (tenant) the key acts for')
    .option('--permission <perm>', 'resource:action[:id], repeatable', collect)
    .option('--ip <cidr>', 'allowed client IP or CIDR, repeatable', collect)
    .option('--expires-at <iso>', 'expiry (ISO 8601)')
    .option('--expires-in <duration>', 'expiry from now: 90d, 12h, 30m')
    .option('--metadata <json>', 'JSON object (≤ 8 KiB)')
    .option('--ratelimit <name:limit:window>', 'rate limit, repeatable', collect)
    .option('--credits <n>', 'credit balance')
    .option('--refill <amount:interval>', 'credit refill, e.g. 1000:monthly');
}

/** `keywarden keys create|list|show|update|disable|enable|regenerate|delete`. */
export function keysCommand(program: Command): void {
  const keys = program.command('keys').description('manage API keys');
  const g = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();

  keyOptions(
    keys
      .command('create')
      .description('create a key; prints the plaintext key once')
      .requiredOption('--name <name>', 'system-env-purpose, e.g. crm-prod-agent-call')
      .addOption(
        new Option('--environment <env>', 'production, staging or development')
          .choices(['production', 'staging', 'development'])
          .makeOptionMandatory(),
      ),
  ).action(async (f: KeyFlags, cmd: Command) => {
    const o = g(cmd);
    const res = await clientFrom(o).createKey({
      ...keyBody(f),
      name: f.name ?? '',
      environment: f.environment as KeyInput['environment'],
    });
    if (o.json === true) {
      printJson(res);
      return;
    }
    print(keyTable(res.record));
    showSecret('Key', res.key);
  });

  keys
    .command('list')
    .description('list keys (newest first)')
    .addOption(new Option('--environment <env>').choices(['production', 'staging', 'development']))
    .addOption(new Option('--status <status>').choices(['active', 'disabled', 'expired', 'deleted']))
    .option('--team <team>')
    .option('--system <system>')
    .option('--customer <id>')
    .option('--q <text>', 'name contains')
    .option('--limit <n>', 'page size', '50')
    .option('--cursor <cursor>')
    .option('--all', 'follow the cursor to the end')
    .action(async (f: Record<string, string | boolean | undefined>, cmd: Command) => {
      const o = g(cmd);
      const c = clientFrom(o);
      const query = {
        environment: f.environment as string | undefined,
        status: f.status as string | undefined,
        team: f.team as string | undefined,
        system: f.system as string | undefined,
        customerId: f.customer as string | undefined,
        q: f.q as string | undefined,
        limit: int('--limit', String(f.limit)),
        cursor: f.cursor as string | undefined,
      };
      let page = await c.listKeys(query);
      const items = [...page.items];
      while (f.all === true && page.nextCursor !== null) {
        page = await c.listKeys({ ...query, cursor: page.nextCursor });
        items.push(...page.items);
      }
      if (o.json === true) {
        printJson({ items, nextCursor: page.nextCursor });
        return;
      }
      print(keysTable(items));
      print(
        `${items.length} key(s)${page.nextCursor !== null ? ` — more: --cursor ${page.nextCursor}` : ''}`,
      );
    });

  keys
    .command('show <id>')
    .description('one key')
    .action(async (id: string, _f: unknown, cmd: Command) => {
      const o = g(cmd);
      const k = await clientFrom(o).getKey(id);
      if (o.json === true) {
        printJson(k);
        return;
      }
      print(keyTable(k));
    });

  keyOptions(
    keys.command('update <id>').description('change a key (only the flags given)').option('--name <name>'),
  ).action(async (id: string, f: KeyFlags, cmd: Command) => {
    const o = g(cmd);
    const body = keyBody(f);
    if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give at least one flag');
    const k = await clientFrom(o).updateKey(id, body);
    if (o.json === true) {
      printJson(k);
      return;
    }
    print(keyTable(k));
  });

  for (const action of ['disable', 'enable'] as const) {
    keys
      .command(`${action} <id>`)
      .description(action === 'disable' ? 'disable a key at once (reversible)' : 'enable a disabled key')
      .option('--reason <text>')
      .action(async (id: string, f: { reason?: string }, cmd: Command) => {
        const o = g(cmd);
        const c = clientFrom(o);
        const k = action === 'disable' ? await c.disableKey(id, f.reason) : await c.enableKey(id, f.reason);
        if (o.json === true) {
          printJson(k);
          return;
        }
        print(`${k.name} (${k.id}) is now ${k.status}${k.disabledReason ? `: ${k.disabledReason}` : ''}`);
      });
  }

  keys
    .command('regenerate <id>')
    .description('new secret, same id and configuration; prints the new key once')
    .option('--grace <seconds>', 'keep the old secret valid this long', '0')
    .action(async (id: string, f: { grace: string }, cmd: Command) => {
      const o = g(cmd);
      const res = await clientFrom(o).regenerateKey(id, int('--grace', f.grace));
      if (o.json === true) {
        printJson(res);
        return;
      }
      print(
        `Regenerated ${res.record.name} (${res.record.id}).${f.grace !== '0' ? ` The old secret keeps working for ${f.grace} s.` : ' The old secret no longer works.'}`,
      );
      showSecret('New key', res.key);
    });

  keys
    .command('delete <id>')
    .description('reclaim a key: permanently invalid, history kept')
    .action(async (id: string, _f: unknown, cmd: Command) => {
      const o = g(cmd);
      const k = await clientFrom(o).deleteKey(id);
      if (o.json === true) {
        printJson(k);
        return;
      }
      print(`${k.name} (${k.id}) is deleted`);
    });
}
