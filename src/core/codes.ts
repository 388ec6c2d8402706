// Pure data, shared with the web console's bundle: no imports.

/** The closed set of outcomes (SPEC §2), in the order they are checked. */
export const VERIFY_CODES = [
  'MALFORMED',
  'NOT_FOUND',
  'DELETED',
  'DISABLED',
  'EXPIRED',
  'ENVIRONMENT_MISMATCH',
  'IP_NOT_ALLOWED',
  'INSUFFICIENT_PERMISSIONS',
  'RATE_LIMITED',
  'USAGE_EXCEEDED',
  'VALID',
] as const;
export type VerifyCode = (typeof VERIFY_CODES)[number];

/** The environments a key belongs to (SPEC §1). */
export type Environment = 'production' | 'staging' | 'development';
export const ENVIRONMENTS: readonly Environment[] = ['production', 'staging', 'development'];

/** Admin actions recorded in the audit log (SPEC §5). */
export const AUDIT_ACTIONS = [
  'key.create',
  'key.update',
  'key.disable',
  'key.enable',
  'key.regenerate',
  'key.delete',
  'key.leak',
  'policy.update',
  'team_policy.update',
  'admin_key.create',
  'admin_key.disable',
  'admin_key.enable',
  'admin_key.delete',
  'admin_key.regenerate',
  'webhook.create',
  'webhook.delete',
  'store.init',
  'member.create',
  'member.update',
  'member.remove',
  'member.sso_create',
  'member.sso_update',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
