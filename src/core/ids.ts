import { randomBase62 } from './keys.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 12;
let lastMs = -1;
let lastRandom = '';

/** Adds one to a base62 string (carry to the left); the random part never realistically overflows. */
function increment(s: string): string {
  // No split/join: ids made within one millisecond (thousands a second in the usage log) are this.
  for (let i = s.length - 1; i >= 0; i--) {
    const v = BASE62.indexOf(s.charAt(i));
    if (v < 61) return `${s.slice(0, i)}${BASE62.charAt(v + 1)}${'0'.repeat(s.length - 1 - i)}`;
  }
  return randomBase62(RANDOM_LENGTH);
}

/**
 * Time-ordered ids (`key_` + 7 base62 chars of milliseconds + 12 random), monotonic within a
 * process like ULIDs: sorting by id sorts by creation, which makes keyset pagination on the
 * primary key possible.
 */
export function newId(prefix: string, nowMs: number): string {
  let ms = Math.floor(nowMs);
  if (ms <= lastMs) {
    ms = lastMs;
    lastRandom = increment(lastRandom);
  } else {
    lastMs = ms;
    lastRandom = randomBase62(RANDOM_LENGTH);
  }
  let t = '';
  for (let i = 0; i < 7; i++) {
    t = BASE62.charAt(ms % 62) + t;
    ms = Math.floor(ms / 62);
  }
  return `${prefix}_${t}${lastRandom}`;
}
