import Table from 'cli-table3';
import { KeywardenClient } from '../sdk/client.js';
import type { KeyRecord } from '../core/model.js';

/** A usage or configuration error: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The operation was refused (e.g. verify not VALID): exit code 1, message already printed. */
export class Refused extends Error {
  override name = 'Refused';
}

export interface GlobalOptions {
  url?: string;
  adminKey?: string;
  json?: boolean;
}

export function clientFrom(o: GlobalOptions): KeywardenClient {
  const adminKey = o.adminKey ?? process.env.KEYWARDEN_ADMIN_KEY;
  if (adminKey === undefined || adminKey === '') {
    throw new UsageError('no admin key: pass --admin-key or set KEYWARDEN_ADMIN_KEY');
  }
  return new KeywardenClient({
    url: o.url ?? process.env.KEYWARDEN_URL ?? 'http://127.0.0.1:8080',
    adminKey,
  });
}

/**
 * `keywarden … | head -1`: when the reader closes the pipe, stop quietly (exit 0) instead of
 * printing an EPIPE stack trace.
 */
export function exitQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount('error') > 0) continue;
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
}

export const print = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
export const printErr = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
export const printJson = (value: unknown): void => {
  print(JSON.stringify(value, null, 2));
};

export function table(head: string[], rows: (string | number | null | undefined)[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) t.push(r.map((c) => (c === null || c === undefined ? '–' : String(c))));
  return t.toString();
}

/** "3 h ago" style relative time, for tables. */
export function ago(iso: string | null, now = Date.now()): string {
  if (iso === null) return 'never';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

export function keyTable(k: KeyRecord): string {
  return table(
    ['field', 'value'],
    [
      ['id', k.id],
      ['name', k.name],
      ['environment', k.environment],
      ['status', k.status + (k.disabledReason ? ` (${k.disabledReason})` : '')],
      ['key', `${k.start}…${k.end}`],
      ['system / purpose', `${k.system ?? '–'} / ${k.purpose ?? '–'}`],
      ['owner', `${k.owner.team ?? '–'} <${k.owner.contact ?? '–'}>`],
      ['customer', k.customerId],
      ['permissions', k.permissions.join(', ') || '(none)'],
      [
        'rate limits',
        k.ratelimits.map((r) => `${r.name}: ${r.limit}/${r.windowSeconds}s`).join(', ') || '(none)',
      ],
      [
        'credits',
        k.credits === null
          ? null
          : `${k.credits.remaining}${k.credits.refill ? ` (refill ${k.credits.refill.amount} ${k.credits.refill.interval})` : ''}`,
      ],
      ['ip allowlist', k.ipAllowlist.join(', ') || '(any)'],
      ['expires', k.expiresAt ?? 'never'],
      ['created', `${k.createdAt} by ${k.createdBy ?? '–'}`],
      ['last used', k.lastUsedAt === null ? 'never' : `${k.lastUsedAt} (${ago(k.lastUsedAt)})`],
      ['rotated', k.rotatedAt],
    ],
  );
}

export function keysTable(items: KeyRecord[]): string {
  return table(
    ['ID', 'NAME', 'ENV', 'STATUS', 'OWNER', 'PERMISSIONS', 'LIMITS', 'LAST USED'],
    items.map((k) => [
      k.id,
      k.name,
      k.environment,
      k.status,
      k.owner.team,
      k.permissions.length > 2
        ? `${k.permissions.slice(0, 2).join(', ')} +${k.permissions.length - 2}`
        : k.permissions.join(', '),
      k.ratelimits.map((r) => `${r.limit}/${r.windowSeconds}s`).join(', '),
      ago(k.lastUsedAt),
    ]),
  );
}

/** Shows a plaintext key once, with the warning that it will not be shown again. */
export function showSecret(label: string, key: string): void {
  print(`${label}: ${key}`);
  print('Store it now: Keywarden keeps only its hash and will not show it again.');
}
