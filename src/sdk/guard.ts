import { Counter, register } from 'prom-client';
import { KeywardenError } from '../core/errors.js';
import { ENVIRONMENTS, type Environment } from '../core/keys.js';
import { platformStatus, type VerifyResult } from '../core/verify.js';
import { KeywardenApiError, type VerifyRequest } from './client.js';

/** Anything that verifies: the HTTP client, or the in-process verifier of an embedded Keywarden. */
export interface VerifierLike {
  verify(req: VerifyRequest): Promise<VerifyResult>;
}

export interface GuardOptions<Req = unknown> {
  verifier: VerifierLike;
  /** The environment this API serves; keys of another environment are refused. */
  environment: Environment;
  /** The permission(s) the route needs, e.g. 'agents:invoke'. */
  permission?: string | string[];
  /** The resource id the permission is narrowed to, read from the request (e.g. a path parameter). */
  // Express 5 types a path parameter as `string | string[]` (a wildcard's segments, joined with "/").
  resource?: (req: Req) => string | readonly string[] | undefined;
  /** Where the key is: `authorization` (Bearer, the default) or a header such as `x-api-key`. */
  header?: string;
  /** Credits one call costs (default 1). */
  cost?: number;
  /** Realm in WWW-Authenticate (default "keywarden"). */
  realm?: string;
  /**
   * When Keywarden cannot be reached or answers 5xx: `deny` (the default) answers 503
   * problem+json; `allow` lets the request through without an identity (`req.keywarden` stays
   * unset), logs a warning and counts it in `keywarden_sdk_unavailable_total{outcome="allowed"}`.
   * A verify key that Keywarden refuses (unknown, disabled, lacking `keys:verify`) is a
   * misconfiguration: always 503, whatever this says.
   */
  onUnavailable?: 'deny' | 'allow';
  /** Where warnings go (default `console.warn`). Never given a key. */
  log?: (message: string) => void;
}

/**
 * Checks the options once, when the middleware is built, so that a misconfiguration fails at
 * start-up rather than looking like a bad client key on every request.
 */
export function checkGuardOptions(opts: GuardOptions<never>): void {
  if (typeof opts !== 'object' || opts === null)
    throw new TypeError('keywarden middleware: options are required');
  if (typeof (opts.verifier as Partial<VerifierLike> | undefined)?.verify !== 'function') {
    throw new TypeError(
      'keywarden middleware: `verifier` must be a KeywardenClient (with a keys:verify admin key) or inProcessVerifier(…)',
    );
  }
  if (!ENVIRONMENTS.includes(opts.environment)) {
    throw new TypeError(`keywarden middleware: \`environment\` must be one of ${ENVIRONMENTS.join(', ')}`);
  }
  if (opts.onUnavailable !== undefined && opts.onUnavailable !== 'deny' && opts.onUnavailable !== 'allow') {
    throw new TypeError('keywarden middleware: `onUnavailable` must be "deny" or "allow"');
  }
  if (
    opts.header !== undefined &&
    (typeof opts.header !== 'string' || !/^[A-Za-z0-9-]+$/.test(opts.header))
  ) {
    throw new TypeError('keywarden middleware: `header` must be a header name such as "x-api-key"');
  }
}

let unavailableCounter: Counter<'outcome'> | undefined;
/** `keywarden_sdk_unavailable_total{outcome}`, in prom-client's default registry. */
export function sdkUnavailableCounter(): Counter<'outcome'> {
  const name = 'keywarden_sdk_unavailable_total';
  unavailableCounter ??=
    (register.getSingleMetric(name) as Counter<'outcome'> | undefined) ??
    new Counter({
      name,
      help: 'Requests the Keywarden middleware could not verify because Keywarden was unavailable, by outcome (denied, allowed)',
      labelNames: ['outcome'],
    });
  return unavailableCounter;
}

/** What a protected route is handed: the key's identity. */
export interface KeyIdentity {
  keyId: string;
  name: string;
  environment: Environment;
  customerId: string | null;
  owner: { team: string | null; contact: string | null };
  permissions: string[];
  metadata: Record<string, unknown>;
}

export type GuardOutcome =
  /** `identity` is null only when Keywarden was unavailable and `onUnavailable` is `allow`. */
  | { ok: true; identity: KeyIdentity | null; headers: Record<string, string> }
  | { ok: false; status: number; headers: Record<string, string>; body: Record<string, unknown> };

const quote = (s: string): string => s.replace(/["\\]/g, '');

/** Reads the presented key: `Authorization: Bearer <key>` or the configured header. */
export function presentedKey(
  headers: Record<string, string | string[] | undefined>,
  header = 'authorization',
): string | undefined {
  const raw = headers[header.toLowerCase()];
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined || v === '') return undefined;
  if (header.toLowerCase() !== 'authorization') return v.trim();
  const m = /^Bearer +(\S+)\s*$/i.exec(v);
  return m?.[1];
}

/**
 * The framework-free core of the middleware: verifies and says what to answer.
 * Failures are problem+json with `WWW-Authenticate` (RFC 6750) on 401/403 and the IETF
 * httpapi `RateLimit`/`RateLimit-Policy` fields plus `Retry-After` on 429.
 */
export async function guard<Req>(
  opts: GuardOptions<Req>,
  req: Req,
  info: {
    headers: Record<string, string | string[] | undefined>;
    ip?: string | undefined;
    userAgent?: string | undefined;
  },
): Promise<GuardOutcome> {
  const realm = quote(opts.realm ?? 'keywarden');
  const key = presentedKey(info.headers, opts.header);
  if (key === undefined) {
    return {
      ok: false,
      status: 401,
      headers: { 'www-authenticate': `Bearer realm="${realm}"`, 'content-type': 'application/problem+json' },
      body: problem(
        401,
        'UNAUTHENTICATED',
        `an API key is required (${opts.header === undefined ? 'Authorization: Bearer <key>' : `header ${opts.header}`})`,
      ),
    };
  }
  const permissions =
    opts.permission === undefined ? [] : Array.isArray(opts.permission) ? opts.permission : [opts.permission];
  const named = opts.resource?.(req);
  const resource = typeof named === 'string' || named === undefined ? named : named.join('/');
  let r: VerifyResult;
  try {
    r = await opts.verifier.verify({
      key,
      environment: opts.environment,
      permissions,
      ...(resource !== undefined ? { resource } : {}),
      ...(info.ip !== undefined ? { ip: info.ip } : {}),
      ...(info.userAgent !== undefined ? { userAgent: info.userAgent } : {}),
      cost: opts.cost ?? 1,
    });
  } catch (err) {
    return unavailable(opts, err, realm);
  }
  const headers: Record<string, string> = {};
  if (r.ratelimit) {
    const reset = Math.max(0, Math.ceil((Date.parse(r.ratelimit.resetAt) - Date.now()) / 1000));
    const name = quote(r.ratelimit.name);
    headers['ratelimit-policy'] = `"${name}";q=${r.ratelimit.limit}`;
    headers.ratelimit = `"${name}";r=${r.ratelimit.remaining};t=${reset}`;
    if (r.code === 'RATE_LIMITED') headers['retry-after'] = String(Math.max(1, reset));
  }
  if (r.valid && r.keyId !== undefined) {
    return {
      ok: true,
      headers,
      identity: {
        keyId: r.keyId,
        name: r.name ?? '',
        environment: r.environment ?? opts.environment,
        customerId: r.customerId ?? null,
        owner: r.owner ?? { team: null, contact: null },
        permissions: r.permissions ?? [],
        metadata: r.metadata ?? {},
      },
    };
  }
  // A code this SDK does not know yet (a newer server) is answered as an unusable key.
  const status = platformStatus(r.code) ?? 401;
  const detail = r.detail ?? r.code;
  if (status === 401)
    headers['www-authenticate'] =
      `Bearer realm="${realm}", error="invalid_token", error_description="${quote(r.code)}"`;
  if (status === 403)
    headers['www-authenticate'] =
      `Bearer realm="${realm}", error="insufficient_scope", error_description="${quote(r.code)}"`;
  if (r.code === 'USAGE_EXCEEDED' && headers['retry-after'] === undefined) headers['retry-after'] = '3600';
  headers['content-type'] = 'application/problem+json';
  return { ok: false, status, headers, body: problem(status, r.code, detail) };
}

/** What to answer when the verifier failed (it threw): never the error's stack, never HTML. */
function unavailable(opts: GuardOptions<never>, err: unknown, realm: string): GuardOutcome {
  const log =
    opts.log ??
    ((m: string) => {
      console.warn(m);
    });
  // An in-process verifier throws what the HTTP API would answer (a refused input: 400).
  const status = err instanceof KeywardenApiError || err instanceof KeywardenError ? err.status : undefined;
  const why = err instanceof Error ? err.message : String(err);
  // Keywarden refused the request itself: the key was too long or not a string (a client
  // error), or the verify key is refused (the operator's error).
  if (status === 400 || status === 413 || status === 422) {
    return {
      ok: false,
      status: 401,
      headers: {
        'www-authenticate': `Bearer realm="${realm}", error="invalid_token", error_description="MALFORMED"`,
        'content-type': 'application/problem+json',
      },
      body: problem(401, 'MALFORMED', 'the API key is not well-formed'),
    };
  }
  const misconfigured = status === 401 || status === 403;
  if (misconfigured) {
    log(
      `keywarden middleware: Keywarden refused the verify key (${why}); it needs an active admin key with the keys:verify permission`,
    );
  } else if (opts.onUnavailable === 'allow') {
    sdkUnavailableCounter().inc({ outcome: 'allowed' });
    log(
      `keywarden middleware: Keywarden is unavailable (${why}); letting the request through (onUnavailable: allow)`,
    );
    return { ok: true, identity: null, headers: {} };
  } else {
    log(`keywarden middleware: Keywarden is unavailable (${why}); answering 503`);
  }
  sdkUnavailableCounter().inc({ outcome: 'denied' });
  return {
    ok: false,
    status: 503,
    headers: { 'retry-after': '5', 'content-type': 'application/problem+json' },
    body: problem(503, 'SERVICE_UNAVAILABLE', 'API key verification is unavailable; try again later'),
  };
}

function problem(status: number, code: string, detail: string): Record<string, unknown> {
  return {
    type: `urn:keywarden:problem:${code.toLowerCase()}`,
    title: code.replace(/_/g, ' ').toLowerCase(),
    status,
    detail,
    code,
  };
}
