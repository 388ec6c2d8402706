import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { KeyImportItem, KeyImportResult } from '../../sdk/client.js';
import {
  clientFrom,
  output,
  print,
  printErr,
  printJson,
  Refused,
  UsageError,
  type GlobalOptions,
} from '../io.js';

/** Items per request (the API takes at most 1,000). */
const BATCH = 500;

/** One CSV record per line; quoted fields may hold commas, doubled quotes and line breaks. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (quoted) {
      if (c === '"' && text.charAt(i + 1) === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text.charAt(i + 1) === '\n') i++;
      row.push(field);
      field = '';
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
    } else field += c;
  }
  row.push(field);
  if (row.some((f) => f !== '')) rows.push(row);
  return rows;
}

const list = (v: string): string[] =>
  v
    .split(/[\s;|]+/)
    .map((x) => x.trim())
    .filter((x) => x !== '');

/**
 * A CSV row as an import item. Columns (header names): name, environment, system, purpose, team,
 * contact, customerId, permissions and roles (separated by spaces, `;` or `|`), expiresAt,
 * metadata (JSON), and the secret: key, or sha256_hex, or sha256_base64.
 */
function csvItem(head: string[], cells: string[], line: number): KeyImportItem {
  const get = (col: string): string | undefined => {
    const i = head.indexOf(col);
    const v = i < 0 ? undefined : cells[i]?.trim();
    return v === '' ? undefined : v;
  };
  const item: Record<string, unknown> = { name: get('name'), environment: get('environment') };
  for (const col of ['system', 'purpose', 'customerId', 'expiresAt', 'key'] as const) {
    const v = get(col);
    if (v !== undefined) item[col] = v;
  }
  const team = get('team');
  const contact = get('contact');
  if (team !== undefined || contact !== undefined)
    item.owner = { team: team ?? null, contact: contact ?? null };
  const perms = get('permissions');
  if (perms !== undefined) item.permissions = list(perms);
  const roles = get('roles');
  if (roles !== undefined) item.roles = list(roles);
  const metadata = get('metadata');
  if (metadata !== undefined) {
    try {
      item.metadata = JSON.parse(metadata) as unknown;
    } catch {
      throw new UsageError(`line ${line}: metadata is not JSON`);
    }
  }
  for (const encoding of ['hex', 'base64'] as const) {
    const v = get(`sha256_${encoding}`);
    if (v !== undefined) item.hash = { algorithm: 'sha256', encoding, value: v };
  }
  return item as unknown as KeyImportItem;
}

/** The items of a `.jsonl` (one JSON object a line) or `.csv` (header row) file, with their line numbers. */
export function readImportFile(path: string): { items: KeyImportItem[]; lines: number[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const items: KeyImportItem[] = [];
  const lines: number[] = [];
  if (/\.csv$/i.test(path)) {
    const [head, ...rows] = parseCsv(text);
    if (head === undefined) throw new UsageError(`${path} is empty`);
    const cols = head.map((h) => h.trim());
    if (!cols.includes('name')) throw new UsageError(`${path}: the header row has no "name" column`);
    rows.forEach((cells, i) => {
      items.push(csvItem(cols, cells, i + 2));
      lines.push(i + 2);
    });
  } else if (/\.jsonl$|\.ndjson$/i.test(path)) {
    text.split(/\r?\n/).forEach((line, i) => {
      if (line.trim() === '') return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        throw new UsageError(`${path}:${i + 1} is not JSON`);
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        throw new UsageError(`${path}:${i + 1} is not a JSON object`);
      items.push(v as KeyImportItem);
      lines.push(i + 1);
    });
  } else throw new UsageError(`${path}: give a .jsonl or a .csv file`);
  return { items, lines };
}

/** Progress: a redrawn bar on a terminal, one plain line per batch otherwise. */
export function progressLine(
  done: number,
  total: number,
  imported: number,
  refused: number,
  tty: boolean,
): string {
  const counts = `${done}/${total} (imported ${imported}, refused ${refused})`;
  if (!tty) return `progress: ${counts}\n`;
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${counts}${done === total ? '\n' : ''}`;
}

/** `keywarden keys import <file.jsonl|file.csv>` (docs/import.md). */
export function importCommand(program: Command): void {
  const keys = program.commands.find((c) => c.name() === 'keys');
  if (keys === undefined) throw new Error('the keys command is registered first');
  keys
    .command('import <file>')
    .description('import existing keys from a .jsonl or .csv file (plaintext or SHA-256), in batches')
    .action(async (file: string, _f: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      const { items, lines } = readImportFile(file);
      if (items.length === 0) throw new UsageError(`${file} holds no keys`);
      const c = clientFrom(o);
      const tty = process.stderr.isTTY && o.json !== true;
      const all: KeyImportResult['items'] = [];
      let imported = 0;
      let refused = 0;
      for (let at = 0; at < items.length; at += BATCH) {
        const res = await c.importKeys(items.slice(at, at + BATCH));
        imported += res.imported;
        refused += res.refused;
        for (const r of res.items) all.push({ ...r, index: r.index + at });
        output.err(progressLine(Math.min(at + BATCH, items.length), items.length, imported, refused, tty));
      }
      if (o.json === true)
        printJson({ imported, refused, items: all.map((r) => ({ ...r, line: lines[r.index] })) });
      else {
        for (const r of all)
          if (r.status === 'refused')
            printErr(
              `${file}:${lines[r.index] ?? '?'}: ${r.name ?? '(no name)'} refused: ${r.detail ?? ''} (${r.code ?? ''})`,
            );
        print(`Imported ${imported} key(s), refused ${refused}.`);
      }
      if (refused > 0) throw new Refused(`${refused} refused`);
    });
}
