// The state of the create and edit forms, and its translation to the API's key body.
import type { KeyRecord } from '../api.js';

export type Expiry = 'keep' | '30' | '90' | '365' | 'custom' | 'never';
export const WINDOW_CHOICES: [string, number][] = [
  ['second', 1],
  ['minute', 60],
  ['hour', 3600],
  ['day', 86_400],
];

export interface LimitRow {
  name: string;
  limit: string;
  windowSeconds: string;
}

export interface KeyFormState {
  name: string;
  environment: KeyRecord['environment'];
  system: string;
  purpose: string;
  team: string;
  contact: string;
  customerId: string;
  /** The identity (idn_…) whose limits and credits the key shares; '' for none. */
  identityId: string;
  permissions: string[];
  ratelimits: LimitRow[];
  creditsOn: boolean;
  creditsRemaining: string;
  refillAmount: string;
  refillInterval: '' | 'daily' | 'monthly';
  expiry: Expiry;
  customDate: string;
  ipAllowlist: string;
  roles: string[];
}

export function emptyForm(): KeyFormState {
  return {
    name: '',
    environment: 'production',
    system: '',
    purpose: '',
    team: '',
    contact: '',
    customerId: '',
    identityId: '',
    permissions: [],
    ratelimits: [],
    creditsOn: false,
    creditsRemaining: '1000',
    refillAmount: '',
    refillInterval: '',
    expiry: '90',
    customDate: '',
    ipAllowlist: '',
    roles: [],
  };
}

export function formOf(k: KeyRecord): KeyFormState {
  return {
    name: k.name,
    environment: k.environment,
    system: k.system ?? '',
    purpose: k.purpose ?? '',
    team: k.owner.team ?? '',
    contact: k.owner.contact ?? '',
    customerId: k.customerId ?? '',
    identityId: k.identityId ?? '',
    permissions: [...k.permissions],
    ratelimits: k.ratelimits.map((r) => ({
      name: r.name,
      limit: String(r.limit),
      windowSeconds: String(r.windowSeconds),
    })),
    creditsOn: k.credits !== null,
    creditsRemaining: String(k.credits?.remaining ?? 1000),
    refillAmount: k.credits?.refill ? String(k.credits.refill.amount) : '',
    refillInterval: k.credits?.refill?.interval ?? '',
    expiry: 'keep',
    customDate: k.expiresAt?.slice(0, 10) ?? '',
    ipAllowlist: k.ipAllowlist.join('\n'),
    roles: [...k.roles],
  };
}

const orNull = (s: string): string | null => (s.trim() === '' ? null : s.trim());

/** The expiry the form asks for; `undefined` means "leave it as it is". Throws a plain message. */
export function expiryOf(f: KeyFormState, now = Date.now()): string | null | undefined {
  switch (f.expiry) {
    case 'keep':
      return undefined;
    case 'never':
      return null;
    case 'custom': {
      if (f.customDate === '') throw new Error('Pick the expiry date, or choose another expiry.');
      // The key works through the whole chosen day (UTC).
      const at = Date.parse(`${f.customDate}T23:59:59.999Z`);
      if (Number.isNaN(at)) throw new Error(`"${f.customDate}" is not a date.`);
      return new Date(at).toISOString();
    }
    default:
      return new Date(now + Number(f.expiry) * 86_400_000).toISOString();
  }
}

/** A whole number typed in a field, or an Error naming the field. */
export function integer(label: string, s: string, min: number): number {
  const n = Number(s);
  if (s.trim() === '' || !Number.isInteger(n) || n < min)
    throw new Error(`${label} must be a whole number ≥ ${min}.`);
  return n;
}

/** The API body for the form. Throws an Error with a message for the person filling it in. */
export function bodyOf(f: KeyFormState): Record<string, unknown> {
  const expiresAt = expiryOf(f);
  return {
    name: f.name.trim(),
    system: orNull(f.system),
    purpose: orNull(f.purpose),
    owner: { team: orNull(f.team), contact: orNull(f.contact) },
    customerId: orNull(f.customerId),
    identityId: orNull(f.identityId),
    permissions: f.permissions,
    ratelimits: f.ratelimits.map((r, i) => ({
      name: r.name.trim() === '' ? `limit-${i + 1}` : r.name.trim(),
      limit: integer(`Rate limit ${i + 1}`, r.limit, 1),
      windowSeconds: integer(`The window of rate limit ${i + 1}`, r.windowSeconds, 1),
    })),
    credits: f.creditsOn
      ? {
          remaining: integer('Credits', f.creditsRemaining, 0),
          refill:
            f.refillInterval === ''
              ? null
              : { amount: integer('The refill amount', f.refillAmount, 1), interval: f.refillInterval },
        }
      : null,
    ipAllowlist: f.ipAllowlist
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    roles: f.roles,
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
}

/** For PATCH: only the fields that differ from the record, so policy checks only what changed. */
export function patchOf(f: KeyFormState, original: KeyRecord): Record<string, unknown> {
  const now = bodyOf(f);
  const before = bodyOf(formOf(original));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(now)) {
    if (JSON.stringify(v) !== JSON.stringify(before[k])) out[k] = v;
  }
  return out;
}
