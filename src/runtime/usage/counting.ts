/**
 * The per-key usage counters a call adds to (daily outcomes, seen IPs, user agents and permissions,
 * last use), and the ISO clock the writer reads their times with. Used by the decoder (decoder.ts)
 * for every event it groups, and on the main thread for an event whose log row is not kept.
 */
import { compileGrants, grantAllowing, type Grants } from '../../core/permissions.js';
import type { VerificationEvent } from '../../core/ports.js';
import { addCount, dailyKey, seenKey, type UsageBatch } from '../../storage/usage-batch.js';
import { UA_MAX } from './minutes.js';

/**
 * ISO time (and day) of a millisecond, remembered for the next call. The writer asks for two per
 * row (its first and last call), mostly in different milliseconds of a few seconds: `toISOString`
 * per call was a fifth of building the rows, so the text up to the second is kept for the last two
 * seconds asked and the milliseconds appended.
 */
export class IsoClock {
  private ms = NaN;
  private secs: [number, number] = [NaN, NaN];
  private prefixes: [string, string] = ['', ''];
  iso = '';
  day = '';
  at(ms: number): string {
    if (ms !== this.ms) {
      this.ms = ms;
      const t = Math.floor(ms);
      const sec = Math.floor(t / 1000);
      let prefix: string;
      if (sec === this.secs[0]) prefix = this.prefixes[0];
      else if (sec === this.secs[1]) prefix = this.prefixes[1];
      else {
        // 'YYYY-MM-DDTHH:MM:SS.' (years 0–9999: toISOString's own form there)
        prefix = new Date(sec * 1000).toISOString().slice(0, 20);
        this.secs = [sec, this.secs[0]];
        this.prefixes = [prefix, this.prefixes[0]];
      }
      const m = t - sec * 1000;
      this.iso = `${prefix}${m < 10 ? '00' : m < 100 ? '0' : ''}${m}Z`;
      this.day = prefix.slice(0, 10);
    }
    return this.iso;
  }
}

/**
 * A permission a valid call used, and what it is counted as past the key's cap of the day (null:
 * never folded): see `seenKey` and `SEEN_PERMISSIONS_PER_DAY` (storage/usage-batch.ts).
 */
export type UsedPermission = readonly [value: string, fold: string | null];

/**
 * The permissions a valid call used: each narrowed to the resource it named when asked for all
 * resources, with the grant that allowed it as its fold when that grant is wider than the value.
 */
export function usedPermissions(
  permissions: readonly string[],
  resource: string | null,
  grants: Grants | null,
): UsedPermission[] {
  return permissions.map((p) => {
    const value = resource !== null && p.split(':').length === 2 ? `${p}:${resource}` : p;
    const grant = grants === null ? undefined : grantAllowing(grants, p, resource ?? undefined);
    return [value, grant === undefined || grant === value ? null : grant];
  });
}

/** Counts one verification of a known key into `b`'s daily counters, seen values and last use. */
export function countUse(
  b: UsageBatch,
  keyId: string,
  iso: string,
  day: string,
  code: string,
  ip: string | null,
  userAgent: string | null,
  used: readonly UsedPermission[],
): void {
  addCount(b.daily, dailyKey(keyId, day, code));
  if (ip !== null) addCount(b.seen, seenKey(keyId, day, 'ip', ip));
  if (userAgent !== null) addCount(b.seen, seenKey(keyId, day, 'ua', userAgent));
  if (code === 'VALID') {
    const prev = b.lastUsed.get(keyId);
    if (prev === undefined || prev < iso) b.lastUsed.set(keyId, iso);
    for (const [p, fold] of used) addCount(b.seen, seenKey(keyId, day, 'permission', p, fold));
  }
}

/** A key's grant list compiled once (the lists are the cache entries' shared ones). */
const COMPILED = new WeakMap<readonly string[], Grants>();
const grantsOf = (list: readonly string[] | null): Grants | null => {
  if (list === null) return null;
  let g = COMPILED.get(list);
  if (g === undefined) {
    g = compileGrants(list);
    COMPILED.set(list, g);
  }
  return g;
};

/** The counters of an event whose log row is not kept (the buffer is full): main thread, rare. */
export function countEvent(b: UsageBatch, e: VerificationEvent, clock: IsoClock): void {
  if (e.keyId === null || e.shadow === true) return;
  const iso = clock.at(e.at);
  const ua = e.userAgent === null ? null : e.userAgent.slice(0, UA_MAX);
  const used =
    e.code === 'VALID' ? usedPermissions(e.permissions, e.resource, grantsOf(e.grants ?? null)) : [];
  countUse(b, e.keyId, iso, clock.day, e.code, e.ip, ua, used);
}
