import type { IdentityInput, IdentityPatch, IdentityRecord } from '../core/identity.js';
import type { MemberRecord, MemberRole } from '../core/members.js';
import type { AdminKeyRecord, KeyRecord } from '../core/model.js';
import type { Role } from '../core/roles.js';
import type { Page } from '../core/page.js';
import type { PolicyPreview } from '../core/policy-preview.js';
import type { VerifyCode, VerifyResult } from '../core/verify.js';
import { parseKey } from '../core/keys.js';
import { KeywardenApiError } from '../core/problem-error.js';

// The problem+json error lives in the browser-safe core, so the web console throws the same class.
export { KeywardenApiError };

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

export type { Page, PolicyPreview };

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
    | 'imported'
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

type Query = Record<string, string | number | boolean | undefined>;

/** Filters of `GET /v1/logs` (docs/verification-log.md). */
export interface LogQuery {
  keyId?: string;
  identityId?: string;
  code?: VerifyCode;
  /** true: only a narrowing's would-have-refused rows (docs/narrowing.md); false: only real calls; unset: both. */
  shadow?: boolean;
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

/** Verifications per day and outcome, summed over an identity's keys. */
export interface IdentityUsage {
  identityId: string;
  keys: number;
  days: { day: string; counts: Record<string, number> }[];
  totals: Record<string, number>;
}

export type { Role };

/** One key to import (docs/import.md): a key record plus its plaintext or its SHA-256. */
export type KeyImportItem = KeyInput & {
  key?: string;
  hash?: { algorithm: 'sha256'; encoding: 'hex' | 'base64'; value: string };
};

export interface KeyImportResult {
  imported: number;
  refused: number;
  items: {
    index: number;
    status: 'imported' | 'refused';
    id?: string;
    name?: string;
    code?: string;
    detail?: string;
  }[];
}

/**
 * A typed client for the admin and verify APIs.
 * @example const kw = new KeywardenClient({ url: 'http://127.0.0.1:8080', adminKey: process.env.KEYWARDEN_ADMIN_KEY! });
 *          const { code } = await kw.verify({ key, environment: 'production', permission: 'agents:invoke' });
 */
/** `GET /v1/keys/{id}/narrowing` (docs/narrowing.md). */
export interface Narrowing {
  keyId: string;
  permissions: string[];
  startedAt: string;
  endsAt: string;
  autoApply: boolean;
  state: 'shadow' | 'ready' | 'refused';
  startedBy: string | null;
  finishedAt: string | null;
  refused: number | null;
  wouldHaveRefused: number;
  examples: {
    at: string;
    lastAt: string;
    permission: string | null;
    resource: string | null;
    ip: string | null;
    userAgent: string | null;
    environment: string;
    count: number;
  }[];
}

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
    if (!res.ok) throw KeywardenApiError.fromProblem(res.status, parseOrNull(text), res.statusText);
    const data: unknown = text === '' ? null : JSON.parse(text);
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
  // Identities (docs/identities.md): a customer's limits and credits shared by its keys.
  createIdentity(input: IdentityInput): Promise<IdentityRecord> {
    return this.request('POST', '/v1/identities', input);
  }
  listIdentities(query: Query = {}): Promise<Page<IdentityRecord>> {
    return this.request('GET', '/v1/identities', undefined, query);
  }
  getIdentity(id: string): Promise<IdentityRecord> {
    return this.request('GET', `/v1/identities/${encodeURIComponent(id)}`);
  }
  updateIdentity(id: string, patch: IdentityPatch): Promise<IdentityRecord> {
    return this.request('PATCH', `/v1/identities/${encodeURIComponent(id)}`, patch);
  }
  deleteIdentity(id: string): Promise<IdentityRecord & { unlinkedKeys: number }> {
    return this.request('DELETE', `/v1/identities/${encodeURIComponent(id)}`);
  }
  getIdentityUsage(id: string, days?: number): Promise<IdentityUsage> {
    return this.request('GET', `/v1/identities/${encodeURIComponent(id)}/usage`, undefined, { days });
  }
  // End of identities.
  getUsage(id: string): Promise<Record<string, unknown>> {
    return this.request('GET', `/v1/keys/${encodeURIComponent(id)}/usage`);
  }
  listLogs(query: LogQuery = {}): Promise<Page<Record<string, unknown>>> {
    return this.request('GET', '/v1/logs', undefined, { ...query });
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
  /** The policy `team`'s keys follow: the deployment's, tightened by the team's. */
  getTeamPolicy(team: string): Promise<Record<string, unknown>> {
    return this.request('GET', `/v1/teams/${encodeURIComponent(team)}/policy`);
  }
  /** Sets `team`'s policy (it may only tighten the deployment's); answers the effective policy. */
  putTeamPolicy(team: string, policy: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.request('PUT', `/v1/teams/${encodeURIComponent(team)}/policy`, policy);
  }
  /** Which existing keys would stop complying with `putPolicy(policy)`, by rule; changes nothing. */
  previewPolicy(policy: Record<string, unknown>): Promise<PolicyPreview> {
    return this.request('POST', '/v1/policy/preview', policy);
  }
  /** Which of `team`'s keys would stop complying with that team policy, by rule; changes nothing. */
  previewTeamPolicy(team: string, policy: Record<string, unknown>): Promise<PolicyPreview> {
    return this.request('POST', `/v1/teams/${encodeURIComponent(team)}/policy/preview`, policy);
  }
  governanceReport(): Promise<Record<string, unknown>> {
    return this.request('GET', '/v1/reports/governance');
  }
  reportLeaks(text: string): Promise<{
    found: { masked: string; kind: string; keyId: string | null; action: string; line: number }[];
  }> {
    return this.request('POST', '/v1/leaks', { text });
  }
  /** Starts a shadow period for a narrower permission set (docs/narrowing.md). */
  startNarrowing(
    id: string,
    input: { permissions: string[]; days: number; autoApply?: boolean },
  ): Promise<Narrowing> {
    return this.request('POST', `/v1/keys/${encodeURIComponent(id)}/narrowing`, input);
  }
  /** A key's narrowing: its set, period, state and the calls it would have refused. */
  getNarrowing(id: string): Promise<Narrowing> {
    return this.request('GET', `/v1/keys/${encodeURIComponent(id)}/narrowing`);
  }
  /** Cancels a key's narrowing (the key keeps its permissions). */
  async cancelNarrowing(id: string): Promise<void> {
    await this.request('DELETE', `/v1/keys/${encodeURIComponent(id)}/narrowing`);
  }
  /** The owner mail delivery log (docs/notifications.md), newest first. */
  listMailDeliveries(query: Query = {}): Promise<Page<Record<string, unknown>>> {
    return this.request('GET', '/v1/notifications/deliveries', undefined, query);
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
  /** Imports up to 1,000 existing keys; each item is imported or refused on its own. */
  importKeys(keys: KeyImportItem[]): Promise<KeyImportResult> {
    return this.request('POST', '/v1/keys/import', { keys });
  }
  createRole(input: { name: string; permissions: string[]; description?: string | null }): Promise<Role> {
    return this.request('POST', '/v1/roles', input);
  }
  listRoles(): Promise<{ items: Role[] }> {
    return this.request('GET', '/v1/roles');
  }
  getRole(name: string): Promise<Role> {
    return this.request('GET', `/v1/roles/${encodeURIComponent(name)}`);
  }
  updateRole(name: string, patch: { permissions?: string[]; description?: string | null }): Promise<Role> {
    return this.request('PATCH', `/v1/roles/${encodeURIComponent(name)}`, patch);
  }
  deleteRole(name: string): Promise<Role> {
    return this.request('DELETE', `/v1/roles/${encodeURIComponent(name)}`);
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

/** A body's JSON, or null when it has none or is not JSON (a proxy's HTML error page). */
function parseOrNull(text: string): unknown {
  try {
    return text === '' ? null : JSON.parse(text);
  } catch {
    return null;
  }
}
