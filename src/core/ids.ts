import { randomBase62 } from './keys.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 12;

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
 * The random part of ids, one sequence per id kind: ids of the millisecond just used get the last
 * random part plus one (so ids made in a row within a millisecond increase), another millisecond a
 * fresh one.
 */
class RandomPart {
  private lastMs = -1;
  private last = '';

  /** The millisecond of the last id made (-1: none yet). */
  get ms(): number {
    return this.lastMs;
  }

  of(ms: number): string {
    if (ms === this.lastMs) this.last = increment(this.last);
    else {
      this.lastMs = ms;
      this.last = randomBase62(RANDOM_LENGTH);
    }
    return this.last;
  }
}
const forNewId = new RandomPart();
const forIdAt = new RandomPart();

/**
 * Time-ordered ids (`key_` + 7 base62 chars of milliseconds + 12 random), monotonic within a
 * process like ULIDs: sorting by id sorts by creation, which makes keyset pagination on the
 * primary key possible.
 */
export function newId(prefix: string, nowMs: number): string {
  const ms = Math.max(Math.floor(nowMs), forNewId.ms);
  return `${prefix}_${timePart(ms)}${forNewId.of(ms)}`;
}

/** 7 base62 characters of milliseconds (they wrap in 2081). */
function timePart(ms: number): string {
  let x = Math.max(0, Math.floor(ms));
  let t = '';
  for (let i = 0; i < 7; i++) {
    t = BASE62.charAt(x % 62) + t;
    x = Math.floor(x / 62);
  }
  return t;
}

/**
 * An id of the time `ms` itself, not moved forward to keep a process's ids increasing as `newId`
 * does: the verification log's minute rows take their first call's time, so a row's id lies in the
 * minute of its calls, also for a row written late (after a storage outage), and a time range is
 * a range of ids (usage-repo.ts `inLogIdRange`). Ids of one millisecond made in a row increase, as
 * `newId`'s; otherwise unique by their 12 random characters.
 */
export function idAt(prefix: string, ms: number): string {
  const t = Math.floor(ms);
  return `${prefix}_${timePart(t)}${forIdAt.of(t)}`;
}

/**
 * The prefix and time part of ids of `ms`: below every id of `ms` or later, above every earlier one
 * (in byte order, which is how both databases compare ids: COLLATE "C" on PostgreSQL). A time past
 * what 7 characters hold (2081) gives a bound above every id, not one that wrapped around.
 */
export const idBound = (prefix: string, ms: number): string =>
  // '~' sorts after every base62 character.
  `${prefix}_${ms >= 62 ** 7 ? '~' : timePart(ms)}`;
