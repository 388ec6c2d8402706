import type { MemberRecord, MemberRole } from '../core/members.js';
import type { AdminKeyRecord, KeyRecord } from '../core/model.js';
import type { Page } from '../core/page.js';
import type { VerifyResult } from '../core/verify.js';
import { parseKey } from '../core/keys.js';

/** A problem+json answer from Keywarden (SPEC §3). `code` is one of the documented constants. */
export class KeywardenApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly title: string,
    readonly requestId: string | undefined,
  ) {
    super(`${detail} (${code})`);
    this.name = 'KeywardenApiError';
  }
}

/** The server could not be reached (refused, timed out, DNS). */
export class KeywardenConnectionError extends Error {
  override name = 'KeywardenConnectionError';
}

export interface ClientOptions {
  url: string;
  adminKey: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export type { Page };

export type KeyInput = Partial<
  Omit<
    KeyRecord,
    | 'id'
    | 'status'
    | 'start'
    | 'end'
    | 'createdAt'
    | 'createdBy'
    | 'updatedAt'
    | 'lastUsedAt'
    | 'disabledAt'
    | 'disabledReason'
    | 'rotatedAt'
    | 'version'
    | 'owner'
  >
> & {
  name: string;
  environment: KeyRecord['environment'];
  owner?: { team?: string | null; contact?: string | null } | null;
};

export interface VerifyRequest {
  key: string;
  environment: KeyRecord['environment'];
  permission?: string;
  permissions?: string[];
  resource?: string;
  ip?: string;
  userAgent?: string;
  cost?: number;
}

type Query = Record<string, string | number | undefined>;

/**
 * A typed client for the admin and verify APIs.
 * @example const kw = new KeywardenClient({ url: 'http://127.0.0.1:8080', adminKey: process.env.KEYWARDEN_ADMIN_KEY! });
 *          const { code } = await kw.verify({ key, environment: 'production', permission: 'agents:invoke' });
 */
export class KeywardenClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  /**
   * Checks the URL and the admin key's format (never echoing the key): a missing or mistyped key
   * fails here, at start-up, instead of as a 401 on every call.
   */
  constructor(private readonly opts: ClientOptions) {
    checkUrl(opts.url);
    checkAdminKey(opts.adminKey);
    this.base = opts.url.replace(/\/+$/, '');
    this.fetchImpl = opts.fetch ?? fetch;
  }

  async request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const qs =
      query === undefined
        ? ''
        : new URLSearchParams(
            Object.entries(query).flatMap(([k, v]) =>
              v === undefined ? [] : [[k, String(v)] as [string, string]],
            ),
          ).toString();
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.base}${path}${qs === '' ? '' : `?${qs}`}`, {
        method,
        headers: {
          authorization: `Bearer ${this.opts.adminKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new KeywardenConnectionError(`cannot reach Keywarden at ${this.base} (${cause})`);
    }
    const text = await res.text();
    const data: unknown = text === '' ? null : JSON.parse(text);
    if (!res.ok) {
      const p = (data ?? {}) as { code?: string; detail?: string; title?: string; requestId?: string };
      throw new KeywardenApiError(
        res.status,
        p.code ?? 'HTTP_ERROR',
        p.detail ?? `HTTP ${res.status}`,
        p.title ?? '',
        p.requestId,
      );
    }
    return data as T;
  }

  createKey(input: KeyInput): Promise<{ key: string; record: KeyRecord }> {
    return this.request('POST', '/v1/keys', input);
  }
  listKeys(query: Query = {}): Promise<Page<KeyRecord>> {
    return this.request('GET', '/v1/keys', undefined, query);
  }
  getKey(id: string): Promise<KeyRecord> {
    return this.request('GET', `/v1/keys/${encodeURIComponent(id)}`);
  }
  updateKey(id: string, patch: Partial<KeyInput>): Promise<KeyRecord> {
    return this.request('PATCH', `/v1/keys/${encodeURIComponent(id)}`, patch);
  }
  disableKey(id: string, reason?: string): Promise<KeyRecord> {
    return this.request(
      'POST',
      `/v1/keys/${encodeURIComponent(id)}/disable`,
      reason === undefined ? {} : { reason },
    );
  }
  enableKey(id: string, reason?: string): Promise<KeyRecord> {
    return this.request(
      'POST',
      `/v1/keys/${encodeURIComponent(id)}/enable`,
      reason === undefined ? {} : { reason },
    );
  }
  regenerateKey(id: string, gracePeriodSeconds = 0): Promise<{ key: string; record: KeyRecord }> {
    return this.request('POST', `/v1/keys/${encodeURIComponent(id)}/regenerate`, { gracePeriodSeconds });
  }
  deleteKey(id: string): Promise<KeyRecord> {
    return this.request('DELETE', `/v1/keys/${encodeURIComponent(id)}`);
  }
  verify(req: VerifyRequest): Promise<VerifyResult> {
    return this.request('POST', '/v1/verify', req);
  }
  getUsage(id: string): Promise<Record<string, unknown>> {
    return this.request('GET', `/v1/keys/${encodeURIComponent(id)}/usage`);
  }
  listLogs(query: Query = {}): Promise<Page<Record<string, unknown>>> {
    return this.request('GET', '/v1/logs', undefined, query);
  }
  listAudit(query: Query = {}): Promise<Page<Record<string, unknown>>> {
    return this.request('GET', '/v1/audit', undefined, query);
  }
  verifyAudit(anchor?: string): Promise<{ ok: boolean; entries: number; brokenAt: number | null }> {
    return this.request('GET', '/v1/audit/verify', undefined, anchor === undefined ? {} : { anchor });
  }
  /** The audit chain's head `{seq, hash, at}`: keep it elsewhere, pass `${seq}:${hash}` to verifyAudit later. */
  auditHead(): Promise<{ seq: number; hash: string; at: string | null }> {
    return this.request('GET', '/v1/audit/head');
  }
  getPolicy(): Promise<Record<string, unknown>> {
    return this.request('GET', '/v1/policy');
  }
  putPolicy(policy: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.request('PUT', '/v1/policy', policy);
  }
  governanceReport(): Promise<Record<string, unknown>> {
    return this.request('GET', '/v1/reports/governance');
  }
  reportLeaks(text: string): Promise<{
    found: { masked: string; kind: string; keyId: string | null; action: string; line: number }[];
  }> {
    return this.request('POST', '/v1/leaks', { text });
  }
  createAdminKey(input: {
    name: string;
    permissions: string[];
    team?: string | null;
    expiresAt?: string | null;
  }): Promise<{ key: string; record: AdminKeyRecord }> {
    return this.request('POST', '/v1/admin-keys', input);
  }
  listAdminKeys(query: Query = {}): Promise<Page<AdminKeyRecord>> {
    return this.request('GET', '/v1/admin-keys', undefined, query);
  }
  deleteAdminKey(id: string): Promise<AdminKeyRecord> {
    return this.request('DELETE', `/v1/admin-keys/${encodeURIComponent(id)}`);
  }
  /** Adds a member (a person who signs in to the console by SSO) with a role. */
  createMember(input: {
    email: string;
    name?: string | null;
    role: MemberRole;
    team?: string | null;
  }): Promise<MemberRecord> {
    return this.request('POST', '/v1/members', input);
  }
  listMembers(query: Query = {}): Promise<Page<MemberRecord>> {
    return this.request('GET', '/v1/members', undefined, query);
  }
  getMember(id: string): Promise<MemberRecord> {
    return this.request('GET', `/v1/members/${encodeURIComponent(id)}`);
  }
  /** Changes a member's role, team or name; a narrower role applies to their console sessions at once. */
  updateMember(
    id: string,
    patch: { name?: string | null; role?: MemberRole; team?: string | null },
  ): Promise<MemberRecord> {
    return this.request('PATCH', `/v1/members/${encodeURIComponent(id)}`, patch);
  }
  /** Removes a member; their console sessions end at once. */
  deleteMember(id: string): Promise<MemberRecord> {
    return this.request('DELETE', `/v1/members/${encodeURIComponent(id)}`);
  }
}

function checkUrl(url: unknown): void {
  if (typeof url !== 'string' || url === '') throw new TypeError('Keywarden client: `url` is required');
  if (!/^https?:\/\//i.test(url)) {
    throw new TypeError(
      `Keywarden client: the URL ${JSON.stringify(url)} has no http:// or https:// scheme (e.g. http://${url.replace(/^[a-z]+:\/\//i, '')})`,
    );
  }
  try {
    new URL(url);
  } catch {
    throw new TypeError(`Keywarden client: ${JSON.stringify(url)} is not a valid URL`);
  }
}

function checkAdminKey(key: unknown): void {
  if (typeof key !== 'string' || key.trim() === '') {
    throw new TypeError(
      'Keywarden client: `adminKey` is missing (for the middleware: an admin key with the keys:verify permission)',
    );
  }
  const prefix = /^([a-z0-9]{1,10})_/.exec(key)?.[1];
  if (prefix === undefined || parseKey(key, prefix)?.kind !== 'admin') {
    throw new TypeError(
      'Keywarden client: `adminKey` is not a well-formed admin key (<prefix>_adm_…, as printed when it was created)',
    );
  }
}
