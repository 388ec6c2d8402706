import { Command, Option } from 'commander';
import type { KeyRecord } from '../../core/model.js';
import { KeywardenApiError, type KeywardenClient, type KeyInput } from '../../sdk/client.js';
import {
  clientFrom,
  confirm,
  keysTable,
  keyTable,
  print,
  printJson,
  showSecret,
  UsageError,
  type GlobalOptions,
} from '../io.js';
import { narrowingCommand } from './narrowing.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

interface KeyFlags {
  name?: string;
  environment?: string;
  system?: string;
  purpose?: string;
  team?: string;
  contact?: string;
  customer?: string;
  /** `false` with `--no-identity`. */
  identity?: string | false;
  permission?: string[];
  /** Role names (docs/roles.md); replaces the key's roles. */
  role?: string[];
  addPermission?: string[];
  removePermission?: string[];
  /** `false` with `--no-ip-allowlist`. */
  ip?: string[];
  ipAllowlist?: boolean;
  expires?: string;
  expiresAt?: string;
  expiresIn?: string;
  metadata?: string;
  /** `false` with `--no-ratelimit`. */
  ratelimit?: string[] | false;
  /** `false` with `--no-credits`. */
  credits?: string | false;
  refill?: string;
}

const UNIT_MS = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
} as const;

/**
 * `30m`, `1h`, `90d`, `2w`, `1y`, `45s` → milliseconds. A plain number is taken in `plainUnit`
 * when the option has one (`--grace 300` is seconds); otherwise it needs a unit.
 */
export function parseDuration(flag: string, text: string, plainUnit?: keyof typeof UNIT_MS): number {
  const m = /^(\d+)\s*(s|m|h|d|w|y)?$/.exec(text.trim());
  const unit = (m?.[2] as keyof typeof UNIT_MS | undefined) ?? plainUnit;
  if (m === null || unit === undefined) {
    throw new UsageError(
      `${flag} "${text}" is not a duration: use a number and a unit, e.g. 30m, 1h, 90d, 2w, 1y${plainUnit === 's' ? ' (or plain seconds)' : ''}`,
    );
  }
  return Number(m[1]) * UNIT_MS[unit];
}

/** `--expires`: `never`, a duration from now, or an ISO 8601 time. */
function expiryOf(text: string): string | null {
  if (text.trim().toLowerCase() === 'never') return null;
  if (/^\d+\s*[smhdwy]$/.test(text.trim()))
    return new Date(Date.now() + parseDuration('--expires', text)).toISOString();
  return text;
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
  if (f.identity !== undefined) b.identityId = f.identity === false ? null : f.identity;
  if (f.permission !== undefined) b.permissions = f.permission;
  if (f.role !== undefined) b.roles = f.role;
  if (f.ip !== undefined) b.ipAllowlist = f.ip;
  if (f.ipAllowlist === false) {
    if (f.ip !== undefined) throw new UsageError('give --ip or --no-ip-allowlist, not both');
    b.ipAllowlist = [];
  }
  const expiries = [f.expires, f.expiresAt, f.expiresIn].filter((e) => e !== undefined);
  if (expiries.length > 1) throw new UsageError('give one of --expires, --expires-at, --expires-in');
  if (f.expires !== undefined) b.expiresAt = expiryOf(f.expires);
  if (f.expiresAt !== undefined) b.expiresAt = f.expiresAt === 'never' ? null : f.expiresAt;
  if (f.expiresIn !== undefined)
    b.expiresAt =
      f.expiresIn === 'never'
        ? null
        : new Date(Date.now() + parseDuration('--expires-in', f.expiresIn)).toISOString();
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
  if (f.ratelimit === false) b.ratelimits = [];
  else if (f.ratelimit !== undefined) {
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
  if (f.credits === false) {
    if (f.refill !== undefined) throw new UsageError('give --refill or --no-credits, not both');
    b.credits = null;
  } else if (f.credits !== undefined || f.refill !== undefined) {
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
    .option('--identity <id>', 'the identity (idn_…) whose limits and credits the key shares')
    .option('--permission <perm>', 'resource:action[:id], repeatable', collect)
    .option('--role <name>', 'a role the key holds (replaces the list), repeatable', collect)
    .option('--ip <cidr>', 'allowed client IP or CIDR, repeatable', collect)
    .option(
      '--expires <when>',
      'expiry: a duration from now (30m, 1h, 90d, 2w, 1y), an ISO 8601 time, or never',
    )
    .option('--expires-at <iso>', 'expiry (ISO 8601, or never)')
    .option('--expires-in <duration>', 'expiry from now: 30m, 1h, 90d, 2w, 1y (or never)')
    .option('--metadata <json>', 'JSON object (≤ 8 KiB)')
    .option('--ratelimit <name:limit:window>', 'rate limit, repeatable', collect)
    .option('--credits <n>', 'credit balance')
    .option('--refill <amount:interval>', 'credit refill, e.g. 1000:monthly');
}

/** `keywarden keys create|list|show|update|disable|enable|regenerate|delete|narrowing`. */
export function keysCommand(program: Command): void {
  const keys = program.command('keys').description('manage API keys');
  const g = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();
  narrowingCommand(keys);

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
    .option('--identity <id>', 'keys of this identity (idn_…)')
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
        identityId: f.identity as string | undefined,
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
    .command('show <key>')
    .description('one key, by id (key_…) or name')
    .action(async (ref: string, _f: unknown, cmd: Command) => {
      const o = g(cmd);
      const c = clientFrom(o);
      const k = await c.getKey(await resolveKey(c, ref));
      if (o.json === true) {
        printJson(k);
        return;
      }
      print(keyTable(k));
    });

  keyOptions(
    keys
      .command('update <key>')
      .description('change a key, by id (key_…) or name (only the flags given)')
      .option('--name <name>')
      .option('--add-permission <perm>', 'add to the current permissions, repeatable', collect)
      .option('--remove-permission <perm>', 'remove from the current permissions, repeatable', collect),
  )
    // After the options they negate: declared first, commander would default them to true.
    .option('--no-ratelimit', 'remove every rate limit')
    .option('--no-ip-allowlist', 'allow any client IP')
    .option('--no-credits', 'no credit limit')
    .option('--no-identity', 'unlink the key from its identity')
    .action(async (ref: string, f: KeyFlags, cmd: Command) => {
      const o = g(cmd);
      const body = keyBody(f);
      const edits = f.addPermission !== undefined || f.removePermission !== undefined;
      if (Object.keys(body).length === 0 && !edits)
        throw new UsageError('nothing to change: give at least one flag');
      if (edits && f.permission !== undefined)
        throw new UsageError('give --permission (replaces the list) or --add/--remove-permission, not both');
      const c = clientFrom(o);
      const id = await resolveKey(c, ref);
      if (edits) {
        const current = (await c.getKey(id)).permissions;
        const remove = new Set(f.removePermission ?? []);
        const missing = [...remove].filter((p) => !current.includes(p));
        if (missing.length > 0)
          throw new UsageError(`--remove-permission: the key does not have ${missing.join(', ')}`);
        const kept = current.filter((p) => !remove.has(p));
        body.permissions = [...kept, ...(f.addPermission ?? []).filter((p) => !kept.includes(p))];
      }
      const k = await c.updateKey(id, body);
      if (o.json === true) {
        printJson(k);
        return;
      }
      print(keyTable(k));
    });

  for (const action of ['disable', 'enable'] as const) {
    const sub = keys
      .command(`${action} <key>`)
      .description(
        action === 'disable'
          ? 'disable a key at once, by id or name (reversible; asks on a terminal unless --yes)'
          : 'enable a disabled key, by id or name',
      )
      .option(
        '--reason <text>',
        action === 'disable' ? 'why (a second disable without one keeps the first reason)' : 'why',
      );
    if (action === 'disable') sub.option('--yes', 'do not ask for confirmation');
    sub.action(async (ref: string, f: { reason?: string; yes?: boolean }, cmd: Command) => {
      const o = g(cmd);
      const c = clientFrom(o);
      const id = await resolveKey(c, ref);
      if (action === 'disable')
        await confirm(`Disable ${describe(ref, id)}? Callers are refused at once.`, f.yes);
      const k = action === 'disable' ? await c.disableKey(id, f.reason) : await c.enableKey(id, f.reason);
      if (o.json === true) {
        printJson(k);
        return;
      }
      print(`${k.name} (${k.id}) is now ${k.status}${k.disabledReason ? `: ${k.disabledReason}` : ''}`);
    });
  }

  keys
    .command('regenerate <key>')
    .description(
      'new secret, same id and configuration; prints the new key once (asks on a terminal unless --yes)',
    )
    .option('--grace <duration>', 'keep the old secret valid this long: 300 (seconds), 30m, 1h, 2d', '0')
    .option('--yes', 'do not ask for confirmation')
    .action(async (ref: string, f: { grace: string; yes?: boolean }, cmd: Command) => {
      const o = g(cmd);
      const grace = parseDuration('--grace', f.grace, 's') / 1000;
      const c = clientFrom(o);
      const id = await resolveKey(c, ref);
      await confirm(
        `Regenerate ${describe(ref, id)}? ${grace === 0 ? 'The current secret stops working at once.' : `The current secret keeps working for ${grace} s.`}`,
        f.yes,
      );
      const res = await c.regenerateKey(id, grace);
      if (o.json === true) {
        printJson(res);
        return;
      }
      print(
        `Regenerated ${res.record.name} (${res.record.id}).${grace !== 0 ? ` The old secret keeps working for ${grace} s.` : ' The old secret no longer works.'}`,
      );
      showSecret('New key', res.key);
    });

  keys
    .command('delete <key>')
    .description(
      'reclaim a key, by id or name: permanently invalid, history kept (asks on a terminal unless --yes)',
    )
    .option('--yes', 'do not ask for confirmation')
    .action(async (ref: string, f: { yes?: boolean }, cmd: Command) => {
      const o = g(cmd);
      const c = clientFrom(o);
      const id = await resolveKey(c, ref);
      await confirm(`Delete ${describe(ref, id)}? This cannot be undone.`, f.yes);
      const k = await c.deleteKey(id);
      if (o.json === true) {
        printJson(k);
        return;
      }
      print(`${k.name} (${k.id}) is deleted`);
    });
}

const describe = (ref: string, id: string): string => (ref === id ? `key ${id}` : `key ${ref} (${id})`);

/**
 * A key's id from what the operator typed: an id (`key_…`) as is, otherwise the key whose name
 * is exactly `ref`, found with the list API's name filter. A live key wins over deleted ones of
 * the same name; several live ones (one per environment) are ambiguous.
 */
export async function resolveKey(c: KeywardenClient, ref: string): Promise<string> {
  if (ref.startsWith('key_')) return ref;
  const found: KeyRecord[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 20; page++) {
    const res = await c.listKeys({ q: ref, limit: 100, ...(cursor === undefined ? {} : { cursor }) });
    found.push(...res.items.filter((k) => k.name === ref));
    if (res.nextCursor === null) break;
    cursor = res.nextCursor;
  }
  const live = found.filter((k) => k.status !== 'deleted');
  const candidates = live.length > 0 ? live : found;
  const [only] = candidates;
  if (only === undefined) {
    throw new KeywardenApiError(
      404,
      'NOT_FOUND',
      `no key named "${ref}" (pass a key id, key_…, or see \`keywarden keys list --q ${ref}\`)`,
      'Not Found',
      undefined,
    );
  }
  if (candidates.length > 1) {
    throw new UsageError(
      `the name "${ref}" matches ${candidates.length} keys: ${candidates.map((k) => `${k.id} (${k.environment}, ${k.status})`).join(', ')}; pass the id`,
    );
  }
  return only.id;
}
