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
