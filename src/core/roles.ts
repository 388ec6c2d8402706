import { KeywardenError } from './errors.js';
import { isPermission } from './permissions.js';

/** A named set of permissions that many keys hold, changed in one place (docs/roles.md). */
export interface Role {
  name: string;
  description: string | null;
  permissions: string[];
  createdAt: string;
  createdBy: string | null;
  updatedAt: string;
  version: number;
  /** Keys (not deleted) that hold the role, across every team. */
  keys: number;
}

export const ROLE_NAME_PATTERN = '^[a-z][a-z0-9_.-]{0,63}$';
const ROLE_NAME_RE = new RegExp(ROLE_NAME_PATTERN);

/** The most roles one key may hold. */
export const MAX_ROLES_PER_KEY = 20;

export function isRoleName(name: string): boolean {
  return ROLE_NAME_RE.test(name);
}

/** Throws VALIDATION_FAILED (422 with the reason) for a permission list a role cannot have. */
export function checkRolePermissions(permissions: readonly string[]): void {
  permissions.forEach((p, i) => {
    if (!isPermission(p)) {
      throw new KeywardenError(
        'VALIDATION_FAILED',
        `permissions[${i}] "${p}" is not a permission: expected "resource:action", "resource:action:resourceId", "resource:*" or "*"`,
      );
    }
  });
  if (new Set(permissions).size !== permissions.length)
    throw new KeywardenError('VALIDATION_FAILED', 'permissions contains duplicates');
}

/**
 * A key's effective permissions: its own, then each role's in the order the key names its roles,
 * without duplicates. `roles` maps a role name to its permissions; a name it lacks adds nothing.
 * @example effectivePermissions(['a:read'], ['ops'], new Map([['ops', ['a:read', 'b:write']]])) // ['a:read', 'b:write']
 */
export function effectivePermissions(
  own: readonly string[],
  roleNames: readonly string[],
  roles: ReadonlyMap<string, readonly string[]>,
): string[] {
  if (roleNames.length === 0) return [...own];
  const out = new Set(own);
  for (const name of roleNames) for (const p of roles.get(name) ?? []) out.add(p);
  return [...out];
}

/** The role whose permissions are exactly `permissions` (as sets), if any: the first by name. */
export function roleMatching(
  permissions: readonly string[],
  roles: ReadonlyMap<string, readonly string[]>,
): string | undefined {
  const wanted = new Set(permissions);
  if (wanted.size === 0) return undefined;
  const names = [...roles.keys()].sort();
  return names.find((n) => {
    const got = new Set(roles.get(n));
    return got.size === wanted.size && [...got].every((p) => wanted.has(p));
  });
}
