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

/** The exact time, for a tooltip. */
export function exact(iso: string): string {
  return new Date(iso).toLocaleString('en-GB', { timeZone: 'UTC', timeZoneName: 'short' });
}

export function masked(k: { start: string; end: string }): string {
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
