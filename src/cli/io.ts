import { createInterface } from 'node:readline/promises';
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

/** Where the CLI writes; replaceable so tests can run the CLI in-process. */
export const output = {
  out: (text: string): void => {
    process.stdout.write(text);
  },
  err: (text: string): void => {
    process.stderr.write(text);
  },
};

export const print = (line = ''): void => {
  output.out(`${line}\n`);
};
export const printErr = (line: string): void => {
  output.err(`${line}\n`);
};
export const printJson = (value: unknown): void => {
  print(JSON.stringify(value, null, 2));
};

/** The terminal's width: `COLUMNS`, else the terminal's own; undefined when output is not a terminal. */
export function terminalWidth(): number | undefined {
  const env = Number(process.env.COLUMNS);
  if (Number.isInteger(env) && env > 0) return env;
  return process.stdout.isTTY ? process.stdout.columns : undefined;
}

/**
 * Column widths (padding included) that fit `width`: the widest columns give way first, down
 * to a few characters each; cli-table3 then truncates the cells with "…".
 */
export function fitColumns(natural: number[], width: number): number[] {
  const w = [...natural];
  const borders = w.length + 1;
  const min = 5;
  while (w.reduce((a, b) => a + b, 0) + borders > width) {
    let widest = 0;
    for (let i = 1; i < w.length; i++) if ((w[i] ?? 0) > (w[widest] ?? 0)) widest = i;
    if ((w[widest] ?? 0) <= min) break;
    w[widest] = (w[widest] ?? 0) - 1;
  }
  return w;
}

/** No rule between rows: only the header is underlined. */
const NO_ROW_RULES = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

export function table(head: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '–' : String(c))));
  const width = terminalWidth();
  let colWidths: number[] | undefined;
  if (width !== undefined) {
    const natural = head.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)) + 2);
    colWidths = fitColumns(natural, width);
  }
  const t = new Table({
    head,
    style: { head: [], border: [] },
    chars: NO_ROW_RULES,
    ...(colWidths === undefined ? {} : { colWidths, truncate: '…', wordWrap: false }),
  });
  for (const r of cells) t.push(r);
  return t.toString();
}

/** How the CLI asks a question on a terminal; replaceable in tests. */
export const terminal = {
  isInteractive: (): boolean => process.stdin.isTTY,
  ask: async (question: string): Promise<string> => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  },
};

/**
 * Asks before a destructive change on a terminal. `--yes`, or no terminal (scripts, CI), skips
 * the question; anything but y/yes cancels (exit 1, nothing changed).
 */
export async function confirm(question: string, yes: boolean | undefined): Promise<void> {
  if (yes === true || !terminal.isInteractive()) return;
  if (!/^y(es)?$/i.test((await terminal.ask(`${question} [y/N] `)).trim())) {
    printErr('cancelled: nothing changed');
    throw new Refused('cancelled');
  }
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
      ['key', k.imported?.from === 'hash' ? 'imported' : `${k.start}…${k.end}`],
      ['system / purpose', `${k.system ?? '–'} / ${k.purpose ?? '–'}`],
      ['owner', `${k.owner.team ?? '–'} <${k.owner.contact ?? '–'}>`],
      ['customer', k.customerId],
      ['identity', k.identityId],
      ['permissions', k.permissions.join(', ') || '(none)'],
      ['roles', k.roles.join(', ') || '(none)'],
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
