import { isCidr, quotedAddress } from './cidr.js';
import { KeywardenError } from './errors.js';
import type { Environment } from './keys.js';
import type { Credits, Owner, RateLimit } from './model.js';
import { isPermission } from './permissions.js';

/** What an administrator may set on a key (create and patch). */
export interface KeyInput {
  name: string;
  environment: Environment;
  system?: string | null;
  purpose?: string | null;
  owner?: Partial<Owner> | null;
  customerId?: string | null;
  /** Links the key to an identity (its limits and credits apply too); null unlinks. */
  identityId?: string | null;
  permissions?: string[];
  ratelimits?: RateLimit[];
  credits?: { remaining: number; refill?: Credits['refill'] | undefined } | null;
  ipAllowlist?: string[];
  expiresAt?: string | null;
  metadata?: Record<string, unknown>;
  /** Role names (docs/roles.md); each must exist. */
  roles?: string[];
}

export type KeyPatch = Partial<Omit<KeyInput, 'environment'>>;

export const MAX_METADATA_BYTES = 8 * 1024;

const invalid = (detail: string): KeywardenError => new KeywardenError('VALIDATION_FAILED', detail);

/**
 * Checks what the JSON schema cannot express, with a detail that names the field and the value.
 * Throws VALIDATION_FAILED on the first problem.
 */
export function checkKeyFields(input: KeyPatch, nowMs: number): void {
  input.permissions?.forEach((p, i) => {
    if (!isPermission(p)) {
      throw invalid(
        `permissions[${i}] "${p}" is not a permission: expected "resource:action", "resource:action:resourceId", "resource:*" or "*"`,
      );
    }
  });
  if (input.permissions !== undefined && new Set(input.permissions).size !== input.permissions.length) {
    throw invalid('permissions contains duplicates');
  }
  if (input.roles !== undefined && new Set(input.roles).size !== input.roles.length) {
    throw invalid('roles contains duplicates');
  }
  input.ipAllowlist?.forEach((c, i) => {
    if (!isCidr(c))
      throw invalid(`ipAllowlist[${i}] ${quotedAddress(c)} is not an IPv4/IPv6 address or CIDR range`);
  });
  if (input.ratelimits !== undefined) {
    const names = new Set<string>();
    for (const [i, r] of input.ratelimits.entries()) {
      if (names.has(r.name)) throw invalid(`ratelimits[${i}].name "${r.name}" is used twice`);
      names.add(r.name);
    }
  }
  if (input.metadata !== undefined && input.metadata !== null) {
    const size = Buffer.byteLength(JSON.stringify(input.metadata), 'utf8');
    if (size > MAX_METADATA_BYTES) {
      throw invalid(`metadata is ${size} bytes as JSON; the limit is ${MAX_METADATA_BYTES}`);
    }
  }
  if (input.expiresAt !== undefined && input.expiresAt !== null) {
    const t = Date.parse(input.expiresAt);
    if (Number.isNaN(t)) throw invalid(`expiresAt "${input.expiresAt}" is not a date-time`);
    if (t <= nowMs) throw invalid(`expiresAt ${input.expiresAt} is in the past`);
  }
}

/** Normalises an ISO date-time to the stored form (UTC, milliseconds) so text comparison orders it. */
export function normalizeTime(iso: string | null | undefined): string | null {
  if (iso === undefined || iso === null) return null;
  return new Date(Date.parse(iso)).toISOString();
}
