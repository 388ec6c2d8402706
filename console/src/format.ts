import type { KeyRecord } from './api.js';

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86_400],
  ['month', 30 * 86_400],
  ['day', 86_400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];
const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

/** "3 hours ago", "in 12 days". */
export function relative(iso: string, now = Date.now()): string {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === 'second') return rtf.format(Math.trunc(seconds / size), unit);
  }
  return iso;
}

/**
 * The console's one absolute time format, to the second and in UTC, the same on every page and
 * in every browser locale: "2026-12-01 01:57:26 UTC". Sortable, unambiguous (no 01/12 vs 12/01).
 */
export function exact(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Plurals in words: "1 time", "3 times". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
}

export function masked(k: { start: string; end: string }): string {
  // A key imported from its hash only has nothing to show (docs/import.md).
  if (k.start === 'imported' && k.end === '') return 'imported';
  return `${k.start}…${k.end}`;
}

/** What the issue calls the statuses: a disabled key is "Inactive". */
export const STATUS_LABEL: Record<KeyRecord['status'], string> = {
  active: 'Active',
  disabled: 'Inactive',
  expired: 'Expired',
  deleted: 'Deleted',
};

const WINDOWS: [number, string][] = [
  [86_400, 'day'],
  [3600, 'h'],
  [60, 'min'],
  [1, 's'],
];

/** "100/min", "5000/day", "10/30s". */
export function rateLimitText(r: { limit: number; windowSeconds: number }): string {
  for (const [size, label] of WINDOWS) {
    if (r.windowSeconds % size === 0) {
      const n = r.windowSeconds / size;
      return `${r.limit}/${n === 1 ? '' : String(n)}${label}`;
    }
  }
  return `${r.limit}/${r.windowSeconds}s`;
}

export function permissionsSummary(p: readonly string[]): string {
  if (p.length === 0) return 'none';
  return p.length <= 2 ? p.join(', ') : `${p.slice(0, 2).join(', ')} +${p.length - 2} more`;
}
