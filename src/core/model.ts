import type { Environment } from './keys.js';

/** Domain types shared by every layer. Timestamps are ISO-8601 UTC strings. */
export type StoredStatus = 'active' | 'disabled' | 'deleted';
export type KeyStatus = StoredStatus | 'expired';

export interface Owner {
  team: string | null;
  contact: string | null;
}

export interface RateLimit {
  name: string;
  limit: number;
  windowSeconds: number;
}

export type RefillInterval = 'daily' | 'monthly';

export interface Credits {
  remaining: number;
  refill: { amount: number; interval: RefillInterval } | null;
}

export interface KeyRecord {
  id: string;
  name: string;
  environment: Environment;
  system: string | null;
  purpose: string | null;
  owner: Owner;
  customerId: string | null;
  /** The identity whose limits and credits this key shares (issue 22; docs/identities.md). */
  identityId: string | null;
  permissions: string[];
  ratelimits: RateLimit[];
  credits: Credits | null;
  ipAllowlist: string[];
  expiresAt: string | null;
  metadata: Record<string, unknown>;
  status: KeyStatus;
  start: string;
  end: string;
  createdAt: string;
  createdBy: string | null;
  updatedAt: string;
  lastUsedAt: string | null;
  disabledAt: string | null;
  disabledReason: string | null;
  rotatedAt: string | null;
  version: number;
  /** Roles the key holds: its effective permissions are its own plus theirs (docs/roles.md). */
  roles: string[];
  /** Set on a key imported from another system (docs/import.md); null for keys made here. */
  imported: KeyImported | null;
}

export interface KeyImported {
  at: string;
  /** 'plaintext': the string was given (display is masked); 'hash': only its SHA-256 was. */
  from: 'plaintext' | 'hash';
}

/** A stored secret of a key: the current one (expiresAt null) or a rotated one in its grace window. */
export interface SecretInfo {
  keyId: string;
  createdAt: string;
  expiresAt: string | null;
  replacedAt: string | null;
}

export type AdminPermission =
  | 'keys:read'
  | 'keys:write'
  | 'keys:rotate'
  | 'keys:verify'
  | 'logs:read'
  | 'audit:read'
  | 'policy:write'
  | 'admin:manage'
  | '*';

export const ADMIN_PERMISSIONS: readonly AdminPermission[] = [
  'keys:read',
  'keys:write',
  'keys:rotate',
  'keys:verify',
  'logs:read',
  'audit:read',
  'policy:write',
  'admin:manage',
  '*',
];

export interface AdminKeyRecord {
  id: string;
  name: string;
  permissions: AdminPermission[];
  team: string | null;
  status: KeyStatus;
  start: string;
  end: string;
  expiresAt: string | null;
  createdAt: string;
  createdBy: string | null;
  lastUsedAt: string | null;
  disabledAt: string | null;
}

/** The identity an admin request runs as. `team` non-null limits it to that owner team's keys. */
export interface Actor {
  id: string;
  permissions: ReadonlySet<AdminPermission>;
  team: string | null;
  ip: string | null;
  /** When the admin key behind this actor expires (null: never); admin keys it creates expire no later. */
  expiresAt?: string | null;
}

/** True when an actor's scope covers something of `team` (a global actor covers every team and the deployment). */
export function scopeCovers(actor: { team: string | null }, team: string | null): boolean {
  return actor.team === null || actor.team === team;
}

/** True when `held` includes every permission of `target` (`*` includes all; only `*` includes `*`). */
export function permissionsInclude(
  held: ReadonlySet<AdminPermission>,
  target: readonly AdminPermission[],
): boolean {
  return held.has('*') || target.every((p) => p !== '*' && held.has(p));
}

export function adminAllows(actor: Actor, needed: AdminPermission): boolean {
  return actor.permissions.has('*') || actor.permissions.has(needed);
}

/** The status a reader sees: an active key past its expiry is `expired`. */
export function effectiveStatus(stored: StoredStatus, expiresAt: string | null, nowIso: string): KeyStatus {
  if (stored === 'active' && expiresAt !== null && expiresAt <= nowIso) return 'expired';
  return stored;
}
