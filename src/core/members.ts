import type { AdminPermission } from './model.js';

/** The roles a member may hold, strongest first. */
export const MEMBER_ROLES = ['owner', 'admin', 'operator', 'auditor'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

/**
 * The admin permissions each role carries (issue 23): `owner` is `*` and global only; `admin`
 * holds `admin:manage`, every `keys:` permission, `logs:read`, `audit:read` and `policy:write`
 * within its scope; `operator` reads, writes and rotates keys and reads logs; `auditor` reads.
 */
export const ROLE_PERMISSIONS: Readonly<Record<MemberRole, readonly AdminPermission[]>> = {
  owner: ['*'],
  admin: [
    'admin:manage',
    'keys:read',
    'keys:write',
    'keys:rotate',
    'keys:verify',
    'logs:read',
    'audit:read',
    'policy:write',
  ],
  operator: ['keys:read', 'keys:write', 'keys:rotate', 'logs:read'],
  auditor: ['keys:read', 'logs:read', 'audit:read'],
};

export function isMemberRole(v: string): v is MemberRole {
  return (MEMBER_ROLES as readonly string[]).includes(v);
}

export interface MemberRecord {
  id: string;
  email: string;
  name: string | null;
  role: MemberRole;
  team: string | null;
  permissions: AdminPermission[];
  /** `manual` (made through the API or CLI) or `sso` (made just in time from the provider's groups). */
  source: 'manual' | 'sso';
  createdAt: string;
  createdBy: string | null;
  updatedAt: string;
  lastSignInAt: string | null;
}

/** Emails compare case-insensitively: stored and looked up in lower case. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** One entry of KEYWARDEN_OIDC_ROLE_MAP: members of `group` get `role`, limited to `team` when set. */
export interface RoleMapping {
  group: string;
  role: MemberRole;
  team: string | null;
}

/**
 * Parses `kw-owners=owner,crm-admins=admin@crm`: comma-separated `group=role` or
 * `group=role@team`. Returns the entries, or a sentence saying what is wrong.
 */
export function parseRoleMap(raw: string): RoleMapping[] | string {
  const out: RoleMapping[] = [];
  for (const part of raw.split(',')) {
    const entry = part.trim();
    if (entry === '') continue;
    const eq = entry.lastIndexOf('=');
    if (eq <= 0) return `"${entry}" is not group=role or group=role@team`;
    const group = entry.slice(0, eq).trim();
    const [role = '', team, extra] = entry
      .slice(eq + 1)
      .trim()
      .split('@');
    if (!isMemberRole(role)) return `"${role}" in "${entry}" is not one of ${MEMBER_ROLES.join(', ')}`;
    if (extra !== undefined || team === '') return `"${entry}" has a malformed team`;
    if (role === 'owner' && team !== undefined) return `"${entry}": the owner role is global only`;
    out.push({ group, role, team: team ?? null });
  }
  if (out.length === 0) return 'it maps no group';
  return out;
}

/**
 * The strongest mapping among the groups a person is in (owner > admin > operator > auditor; a
 * global mapping beats a team one of the same role); undefined when no group is mapped.
 */
export function roleFromGroups(
  map: readonly RoleMapping[],
  groups: readonly string[],
): RoleMapping | undefined {
  const mine = new Set(groups);
  let best: RoleMapping | undefined;
  const rank = (m: RoleMapping): number => MEMBER_ROLES.indexOf(m.role) * 2 + (m.team === null ? 0 : 1);
  for (const m of map) if (mine.has(m.group) && (best === undefined || rank(m) < rank(best))) best = m;
  return best;
}
