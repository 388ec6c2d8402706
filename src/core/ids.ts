import { randomBase62 } from './keys.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * Time-ordered ids (`key_` + 7 base62 chars of milliseconds + 12 random): sorting by id sorts by
 * creation, which makes keyset pagination on the primary key possible.
 */
export function newId(prefix: string, nowMs: number): string {
  let n = Math.floor(nowMs);
  let t = '';
  for (let i = 0; i < 7; i++) {
    t = BASE62.charAt(n % 62) + t;
    n = Math.floor(n / 62);
  }
  return `${prefix}_${t}${randomBase62(12)}`;
}
