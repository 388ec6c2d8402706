/**
 * The one table of error codes of the admin API (SPEC §3). The SDK and the console switch on
 * `code`; `statusOf` is exhaustive so a new code cannot be added without its HTTP status.
 */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'INVALID_JSON'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'POLICY_VIOLATION'
  | 'UNKNOWN_REFERENCE'
  | 'RATE_LIMITED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'REQUEST_TIMEOUT'
  | 'URI_TOO_LONG'
  | 'HEADERS_TOO_LARGE'
  | 'ALREADY_INITIALIZED'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL';

export function statusOf(code: ErrorCode): number {
  switch (code) {
    case 'VALIDATION_FAILED':
    case 'INVALID_JSON':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'NOT_FOUND':
      return 404;
    case 'METHOD_NOT_ALLOWED':
      return 405;
    case 'CONFLICT':
    case 'ALREADY_INITIALIZED':
      return 409;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 415;
    case 'REQUEST_TIMEOUT':
      return 408;
    case 'URI_TOO_LONG':
      return 414;
    case 'HEADERS_TOO_LARGE':
      return 431;
    case 'POLICY_VIOLATION':
    case 'UNKNOWN_REFERENCE':
      return 422;
    case 'RATE_LIMITED':
      return 429;
    case 'SERVICE_UNAVAILABLE':
      return 503;
    case 'INTERNAL':
      return 500;
  }
}

const TITLES: Record<ErrorCode, string> = {
  VALIDATION_FAILED: 'The request is not valid',
  INVALID_JSON: 'The body is not valid JSON',
  UNAUTHENTICATED: 'Authentication required',
  FORBIDDEN: 'Not allowed',
  NOT_FOUND: 'Not found',
  METHOD_NOT_ALLOWED: 'Method not allowed',
  CONFLICT: 'Conflict',
  POLICY_VIOLATION: 'The policy forbids this',
  UNKNOWN_REFERENCE: 'A referenced resource does not exist',
  RATE_LIMITED: 'Too many requests',
  PAYLOAD_TOO_LARGE: 'The body is too large',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported media type',
  REQUEST_TIMEOUT: 'The request took too long to arrive',
  URI_TOO_LONG: 'The URL is too long',
  HEADERS_TOO_LARGE: 'The request headers are too large',
  ALREADY_INITIALIZED: 'Already initialised',
  SERVICE_UNAVAILABLE: 'Service unavailable',
  INTERNAL: 'Internal error',
};

export function titleOf(code: ErrorCode): string {
  return TITLES[code];
}

/**
 * An expected failure of an admin operation. The HTTP layer turns it into problem+json;
 * the CLI into a message and exit code. `detail` must never contain a secret.
 */
export class KeywardenError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    /**
     * Another status than the code's own, where the contract names one: a well-formed value that
     * cannot be accepted (a webhook target on a private address) is `422 VALIDATION_FAILED`.
     */
    readonly statusOverride?: number,
  ) {
    super(detail);
    this.name = 'KeywardenError';
  }

  get status(): number {
    return this.statusOverride ?? statusOf(this.code);
  }
}
