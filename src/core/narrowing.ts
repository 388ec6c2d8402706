import { KeywardenError } from './errors.js';
import { allows, compileGrants, isPermission, type Grants } from './permissions.js';

/**
 * Narrowing safely (docs/narrowing.md): for a shadow period every verification of a key is also
 * decided against a narrower permission set; the calls it would have refused are logged (marked
 * `shadow`) and counted. When the period ends with nothing refused the narrower set can be
 * applied (automatically with `autoApply`); otherwise the owner is told and the key stays as it is.
 */
export type NarrowingState =
  /** The shadow period is running: verifications are also decided against `permissions`. */
  | 'shadow'
  /** Ended with nothing refused; not applied (no autoApply): listed under `narrowingReady`. */
  | 'ready'
  /** Ended with calls that would have been refused; the key was left as it is. */
  | 'refused';

export interface Narrowing {
  permissions: string[];
  startedAt: string;
  endsAt: string;
  autoApply: boolean;
  state: NarrowingState;
  /** Who started it (an admin key id). */
  startedBy: string | null;
  /** When the period's outcome was decided (null while it runs). */
  finishedAt: string | null;
  /** Calls the narrower set would have refused, counted when the period ended (null while it runs). */
  refused: number | null;
}

/** Shadow periods are at least a day and at most a quarter. */
export const NARROWING_MIN_DAYS = 1;
export const NARROWING_MAX_DAYS = 90;

export function parseNarrowing(text: string | null): Narrowing | null {
  if (text === null || text === '') return null;
  return JSON.parse(text) as Narrowing;
}

/** True when `grants` allows every call `permission` allows (so narrowing to it gives nothing new). */
export function grantCovers(grants: Grants, permission: string): boolean {
  if (permission === '*') return grants.has('*');
  const [type = '', action = '', id] = permission.split(':');
  if (action === '*') {
    if (grants.has('*') || grants.has(`${type}:*`)) return true;
    return id !== undefined && grants.has(`${type}:*:${id}`);
  }
  return id === undefined ? allows(grants, `${type}:${action}`) : allows(grants, permission);
}

/**
 * Checks a requested narrower set against the key's effective permissions: valid grammar, no
 * duplicates, each permission covered by the key's grants, and strictly narrower (422 otherwise).
 */
export function checkNarrowing(current: readonly string[], narrower: readonly string[], days: number): void {
  if (!Number.isInteger(days) || days < NARROWING_MIN_DAYS || days > NARROWING_MAX_DAYS) {
    throw new KeywardenError(
      'VALIDATION_FAILED',
      `days must be a whole number from ${NARROWING_MIN_DAYS} to ${NARROWING_MAX_DAYS}, got ${days}`,
    );
  }
  const bad = narrower.filter((p) => !isPermission(p));
  if (bad.length > 0)
    throw new KeywardenError('VALIDATION_FAILED', `not permissions: ${bad.map((p) => `"${p}"`).join(', ')}`);
  if (new Set(narrower).size !== narrower.length)
    throw new KeywardenError('VALIDATION_FAILED', 'permissions must not repeat');
  const grants = compileGrants(current);
  const wider = narrower.filter((p) => !grantCovers(grants, p));
  if (wider.length > 0) {
    throw new KeywardenError(
      'VALIDATION_FAILED',
      `not a subset of the key's permissions [${current.join(', ')}]: ${wider.join(', ')} ${
        wider.length === 1 ? 'is' : 'are'
      } not granted`,
      422,
    );
  }
  const mine = compileGrants(narrower);
  if (current.every((p) => grantCovers(mine, p))) {
    throw new KeywardenError(
      'VALIDATION_FAILED',
      `[${narrower.join(', ')}] allows everything the key's permissions allow: nothing would be narrowed`,
      422,
    );
  }
}

/** The shadow set a verification decides against, while the period runs (compiled once per cache entry). */
export interface ShadowSet {
  grants: Grants;
  endsAtMs: number;
}

export function shadowSetOf(n: Narrowing | null): ShadowSet | null {
  if (n === null || n.state !== 'shadow') return null;
  return { grants: compileGrants(n.permissions), endsAtMs: Date.parse(n.endsAt) };
}
