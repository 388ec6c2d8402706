/**
 * Permission grammar (SPEC §1): `*`, `resource:*`, `resource:action`, or
 * `resource:action:resourceId` (narrowed to one resource). Matching is precompiled into a Set
 * so a check is a handful of hash lookups, whatever the number of grants.
 */
const NAME = '[a-z][a-z0-9_.-]{0,63}';
const ID = '[A-Za-z0-9_.@-]{1,128}';
export const PERMISSION_PATTERN = `^(\\*|${NAME}:(\\*|${NAME})(:${ID})?)$`;
const PERMISSION_RE = new RegExp(PERMISSION_PATTERN);
/** A permission asked for at verification: no wildcards. */
const REQUIRED_RE = new RegExp(`^${NAME}:${NAME}(:${ID})?$`);
const RESOURCE_ID_RE = new RegExp(`^${ID}$`);

export function isPermission(p: string): boolean {
  return PERMISSION_RE.test(p);
}

export function isRequiredPermission(p: string): boolean {
  return REQUIRED_RE.test(p);
}

export function isResourceId(id: string): boolean {
  return RESOURCE_ID_RE.test(id);
}

export function hasWildcard(p: string): boolean {
  return p.includes('*');
}

export type Grants = ReadonlySet<string>;

export function compileGrants(permissions: readonly string[]): Grants {
  return new Set(permissions);
}

/**
 * The grants that would allow `permission` (optionally on `resource`), narrowest first: the call's
 * own resource forms (when it names one), then the action, the type, and `*`.
 */
function grantForms(permission: string, resource: string | undefined): string[] {
  const i = permission.indexOf(':');
  const type = permission.slice(0, i);
  let action = permission.slice(i + 1);
  const j = action.indexOf(':');
  let id = resource;
  if (j >= 0) {
    id = action.slice(j + 1);
    action = action.slice(0, j);
  }
  return id === undefined
    ? [`${type}:${action}`, `${type}:*`, '*']
    : [`${type}:${action}:${id}`, `${type}:*:${id}`, `${type}:${action}`, `${type}:*`, '*'];
}

/**
 * Does the grant set allow `permission` (optionally on `resource`)?
 * A grant narrowed to one resource never satisfies a request for the whole resource type.
 * @example allows(compileGrants(['agents:invoke:agt_42']), 'agents:invoke', 'agt_42') // true
 */
export function allows(grants: Grants, permission: string, resource?: string): boolean {
  // An exact grant always allows (whatever the resource): the common case, with no string built.
  if (grants.has(permission) || grants.has('*')) return true;
  return grantForms(permission, resource).some((g) => grants.has(g));
}

/**
 * The narrowest grant that allows `permission` (optionally on `resource`), or undefined when none
 * does (`grantForms`). Usage counts a permission used under a wider grant as that grant once a key
 * has many distinct ones in a day (storage/usage-batch.ts, `SEEN_PERMISSIONS_PER_DAY`): the
 * narrowest keeps a narrow grant used where a wider one overlaps it, so governance suggests dropping
 * the wider one, not the narrow one.
 * @example grantAllowing(compileGrants(['agents:*', 'agents:invoke']), 'agents:invoke', 'agt_42') // 'agents:invoke'
 */
export function grantAllowing(grants: Grants, permission: string, resource?: string): string | undefined {
  return grantForms(permission, resource).find((g) => grants.has(g));
}

/** The first required permission that the grants do not allow, or undefined when all are allowed. */
export function firstDenied(
  grants: Grants,
  required: readonly string[],
  resource?: string,
): string | undefined {
  for (const p of required) if (!allows(grants, p, resource)) return p;
  return undefined;
}
