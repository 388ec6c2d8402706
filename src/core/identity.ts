import { KeywardenError } from './errors.js';
import { checkKeyFields } from './key-input.js';
import type { Credits, Owner, RateLimit } from './model.js';

/**
 * An identity: one customer (or partner, tenant…) whose keys share its limits and credit balance
 * (issue 22). A key links to at most one identity; verification of such a key applies the key's
 * own limits and the identity's, atomically. docs/identities.md.
 */
export interface IdentityRecord {
  id: string;
  /** The customer's id in the platform's own systems; unique per deployment. */
  externalId: string;
  name: string | null;
  owner: Owner;
  ratelimits: RateLimit[];
  credits: Credits | null;
  metadata: Record<string, unknown>;
  createdAt: string;
  createdBy: string | null;
  updatedAt: string;
  version: number;
}

/** What an administrator may set on an identity (create; a patch sets any subset). */
export interface IdentityInput {
  externalId: string;
  name?: string | null;
  owner?: Partial<Owner> | null;
  ratelimits?: RateLimit[];
  credits?: { remaining: number; refill?: Credits['refill'] | undefined } | null;
  metadata?: Record<string, unknown>;
}

export type IdentityPatch = Partial<IdentityInput>;

/** Ids of identities start with this (keys `key_`, admin keys `adm_`): the cache and the bus tell them apart by it. */
export const IDENTITY_ID_PREFIX = 'idn_';

/** Checks what the JSON schema cannot express (duplicate limit names, metadata size). */
export function checkIdentityFields(input: IdentityPatch, nowMs: number): void {
  if (input.externalId !== undefined && input.externalId.trim() === '')
    throw new KeywardenError('VALIDATION_FAILED', 'externalId is blank');
  checkKeyFields({ ratelimits: input.ratelimits, metadata: input.metadata }, nowMs);
}

/**
 * What verification keeps of a key's identity in the key's cache entry: its limits and its
 * stored balance (the limiter subtracts uses not yet written back).
 */
export interface IdentityView {
  id: string;
  externalId: string;
  ratelimits: readonly RateLimit[];
  credits: { remaining: number } | null;
}

export function identityView(r: IdentityRecord): IdentityView {
  return {
    id: r.id,
    externalId: r.externalId,
    ratelimits: r.ratelimits,
    credits: r.credits === null ? null : { remaining: r.credits.remaining },
  };
}
