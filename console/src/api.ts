// The console's only backend is Keywarden's public HTTP API (SPEC §3), called with the session
// cookie. The admin key itself is sent once, to sign in, and never stored by the browser.
import type { AdminKeyRecord, AdminPermission, KeyRecord } from '../../src/core/model.js';
import type { Page } from '../../src/core/page.js';
import type { Policy } from '../../src/core/policy.js';
import type { PolicyPreview } from '../../src/core/policy-preview.js';
import type { VerifyCode } from '../../src/core/codes.js';
import { SECTIONS, type Section } from '../../src/core/governance.js';
import { KeywardenApiError } from '../../src/core/problem-error.js';

export type { AdminKeyRecord, AdminPermission, KeyRecord, Page, Policy, PolicyPreview, Section, VerifyCode };
export { SECTIONS };

/** An API answer that was not a success: the SDK's problem+json error, `detail` in the server's words. */
export { KeywardenApiError };

/** A role (docs/roles.md), as GET /v1/roles answers it. */
export interface Role {
  name: string;
  description: string | null;
  permissions: string[];
  createdAt: string;
  createdBy: string | null;
  updatedAt: string;
  version: number;
  keys: number;
}

export interface Session {
  csrfToken: string;
  expiresAt: string;
  adminKey: { id: string; name: string; permissions: AdminPermission[]; team: string | null };
  /** The person, when a member signed in by SSO; null for an admin-key session. */
  member: { id: string; email: string; name: string | null; role: string } | null;
}

/** How one may sign in: single sign-on (when configured) and/or an admin key. */
export interface SignInOptions {
  sso: boolean;
  adminKey: boolean;
}

export interface WithSecret<T> {
  key: string;
  record: T;
}

/** A minute row of the verification log: the calls of one combination in one minute. */
export interface LogEntry {
  id: string;
  minute: string;
  at: string;
  firstAt: string;
  lastAt: string;
  count: number;
  /**
   * Calls counted without their details: a minute's overflow row of one code (beyond the row cap;
   * environment '*', no key), or a call the database refused to store as it was (its key and
   * environment kept).
   */
  overflow: boolean;
  /**
   * Calls a narrowing's shadow set would have refused (docs/narrowing.md): they were served (their
   * own row is VALID); `code` is what the narrower set would have answered. No outcome of its own.
   */
  shadow: boolean;
  keyId: string | null;
  keyStart: string | null;
  environment: string;
  permissions: string[];
  resource: string | null;
  code: VerifyCode;
  ip: string | null;
  userAgent: string | null;
  latencyUs: number;
  latencyMaxUs: number;
}

/** One owner mail and how its delivery went (GET /v1/notifications/deliveries, docs/notifications.md). */
export interface MailDelivery {
  id: string;
  occasion: string;
  recipient: string;
  keyId: string | null;
  subject: string;
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  /** A category: connection_failed, auth_failed, timeout, temporarily_rejected, rejected, error. */
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

/** A webhook endpoint (GET /v1/webhooks). */
export interface Webhook {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  status: string;
  createdAt: string;
  createdBy: string | null;
  team: string | null;
}

/** One event sent to a webhook and how it went (GET /v1/webhooks/{id}/deliveries). */
export interface WebhookDelivery {
  id: string;
  event: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string | null;
  /** Who the actor is (absent from older servers): a member by email, an admin key by name. */
  actorInfo?:
    { type: 'member'; id: string; email: string } | { type: 'admin_key'; id: string; name: string } | null;
  action: string;
  target: string | null;
  before: unknown;
  after: unknown;
  ip: string | null;
}

export interface Usage {
  keyId: string;
  lastUsedAt: string | null;
  days: { day: string; counts: Record<string, number> }[];
  totals: Record<string, number>;
  ips: { value: string; count: number }[];
  userAgents: { value: string; count: number }[];
  permissionsUsed: { value: string; count: number }[];
}

export interface Finding {
  keyId: string;
  name: string;
  environment: string;
  /** The key's owner team and status (reports from before these fields lack them). */
  team?: string | null;
  status?: KeyRecord['status'];
  reason: string;
  suggestedPermissions?: string[];
  granted?: string[];
}

export type Report = { generatedAt: string; summary: Record<Section, number> } & Record<Section, Finding[]>;

/**
 * Whether Keywarden answered the last call: one store for the whole console, so that a server
 * that went away shows one banner (not an error per section), forms refuse to be sent, and every
 * view that failed on the network reloads when it answers again.
 */
let reachable = true;
const reachListeners = new Set<() => void>();
function setReachable(v: boolean): void {
  if (reachable === v) return;
  reachable = v;
  for (const l of reachListeners) l();
}
export const connection = {
  reachable: (): boolean => reachable,
  subscribe: (l: () => void): (() => void) => {
    reachListeners.add(l);
    return () => {
      reachListeners.delete(l);
    };
  },
  /** Asks the server whether it answers (any HTTP answer counts); true when it does. */
  probe: async (): Promise<boolean> => {
    try {
      await fetch('/healthz', { method: 'GET', cache: 'no-store' });
      setReachable(true);
      return true;
    } catch {
      setReachable(false);
      return false;
    }
  },
};

export const UNREACHABLE = 'Keywarden could not be reached. Is the server running?';

let csrfToken: string | null = null;
let onSessionLost: ((detail: string) => void) | null = null;

/** Called by the app shell: the token to send on changes, and what to do when the session ends. */
export function setApiSession(token: string | null, lost: ((detail: string) => void) | null): void {
  csrfToken = token;
  onSessionLost = lost;
}

/** A query string from the filled-in fields only. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

/** One API call: JSON in, JSON out; any failure becomes a KeywardenApiError with the server's detail. */
export async function api<T>(
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== null) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    setReachable(false);
    throw new KeywardenApiError(0, 'NETWORK', UNREACHABLE, '', undefined);
  }
  setReachable(true);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text === '' ? null : JSON.parse(text);
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = KeywardenApiError.fromProblem(res.status, data, res.statusText);
    if (res.status === 401 && !path.startsWith('/console/api/session')) onSessionLost?.(err.detail);
    throw err;
  }
  return data as T;
}

/** Plain words for any thrown value. */
export function messageOf(err: unknown): string {
  if (err instanceof KeywardenApiError) return err.detail;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** True for a failure to reach the server at all (as opposed to an answer that was an error). */
export const isNetworkError = (err: unknown): boolean =>
  err instanceof KeywardenApiError && err.code === 'NETWORK';

export const can = (s: Session, p: AdminPermission): boolean =>
  s.adminKey.permissions.includes('*') || s.adminKey.permissions.includes(p);
