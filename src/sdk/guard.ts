import type { Environment } from '../core/keys.js';
import { platformStatus, type VerifyResult } from '../core/verify.js';
import type { VerifyRequest } from './client.js';

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
  resource?: (req: Req) => string | undefined;
  /** Where the key is: `authorization` (Bearer, the default) or a header such as `x-api-key`. */
  header?: string;
  /** Credits one call costs (default 1). */
  cost?: number;
  /** Realm in WWW-Authenticate (default "keywarden"). */
  realm?: string;
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
  | { ok: true; identity: KeyIdentity; headers: Record<string, string> }
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
  const resource = opts.resource?.(req);
  const r = await opts.verifier.verify({
    key,
    environment: opts.environment,
    permissions,
    ...(resource !== undefined ? { resource } : {}),
    ...(info.ip !== undefined ? { ip: info.ip } : {}),
    ...(info.userAgent !== undefined ? { userAgent: info.userAgent } : {}),
    cost: opts.cost ?? 1,
  });
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

function problem(status: number, code: string, detail: string): Record<string, unknown> {
  return {
    type: `urn:keywarden:problem:${code.toLowerCase()}`,
    title: code.replace(/_/g, ' ').toLowerCase(),
    status,
    detail,
    code,
  };
}
