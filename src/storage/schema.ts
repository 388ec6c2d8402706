/**
 * Kysely table types. The same schema serves SQLite and PostgreSQL, so it sticks to types both
 * have: text (ISO-8601 timestamps sort correctly as text, JSON is stored as text) and integer.
 */
export interface KeysTable {
  id: string;
  name: string;
  environment: string;
  system: string | null;
  purpose: string | null;
  owner_team: string | null;
  owner_contact: string | null;
  customer_id: string | null;
  permissions: string;
  ratelimits: string;
  credits_remaining: number | null;
  credits_refill: string | null;
  credits_refilled_at: string | null;
  ip_allowlist: string;
  expires_at: string | null;
  metadata: string;
  status: string;
  key_start: string;
  key_end: string;
  created_at: string;
  created_by: string | null;
  updated_at: string;
  last_used_at: string | null;
  disabled_at: string | null;
  disabled_reason: string | null;
  rotated_at: string | null;
  version: number;
  /** The identity the key shares limits and credits with (migration 0013). */
  identity_id: string | null;
  /** A narrowing in progress or finished (JSON, core/narrowing.ts); null: none. Migration 0016. */
  narrowing: string | null;
  /** Role names (JSON array), mirrored in key_roles (0014_roles). */
  roles: string;
  /** Set on imported keys (0015_imported_keys): when, and from 'plaintext' or 'hash'. */
  imported_at: string | null;
  imported_from: string | null;
}

/** Identities: a customer's limits and credits shared by its keys (migration 0013; docs/identities.md). */
export interface IdentitiesTable {
  id: string;
  external_id: string;
  name: string | null;
  owner_team: string | null;
  owner_contact: string | null;
  ratelimits: string;
  credits_remaining: number | null;
  credits_refill: string | null;
  credits_refilled_at: string | null;
  metadata: string;
  created_at: string;
  created_by: string | null;
  updated_at: string;
  version: number;
}

/** A named permission set (0014_roles). */
export interface RolesTable {
  name: string;
  description: string | null;
  permissions: string;
  created_at: string;
  created_by: string | null;
  updated_at: string;
  version: number;
}

export interface KeyRolesTable {
  key_id: string;
  role: string;
}

export interface KeySecretsTable {
  hash: string;
  key_id: string;
  created_at: string;
  expires_at: string | null;
  replaced_at: string | null;
  /** Set when this secret was reported leaked: the key stays disabled until regenerated. */
  leaked_at: string | null;
}

export interface AdminKeysTable {
  id: string;
  name: string;
  hash: string;
  key_start: string;
  key_end: string;
  permissions: string;
  team: string | null;
  status: string;
  expires_at: string | null;
  created_at: string;
  created_by: string | null;
  updated_at: string;
  last_used_at: string | null;
  disabled_at: string | null;
  /** Set when the current secret was reported leaked; cleared by regenerate. */
  leaked_at: string | null;
}

export interface AuditLogTable {
  id: number;
  at: string;
  actor: string | null;
  action: string;
  target: string | null;
  before: string | null;
  after: string | null;
  ip: string | null;
  prev_hash: string;
  hash: string;
  /** The team the target belongs to (null: deployment-wide); decides who may read the row. */
  team: string | null;
}

/** One row (id = 1): the head of the audit hash chain. Updating it serialises appends across nodes. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface MetaTable {
  name: string;
  value: string;
}

/**
 * The verification log: one row per minute per distinct combination of what identifies a call
 * (migration 0012; docs/verification-log.md). Never holds a key, only its public `start`. Rows
 * written before 0012 are one call each: their `count` is 1 and `last_at`, `latency_sum_us` are
 * null. Null reads as `at` and `latency_us`, and the writer stores it where they are equal
 * (usage-batch.ts `storedLastAt`).
 */
export interface VerificationLogTable {
  id: string;
  /** The first call of the row (ISO); its minute is the row's minute. */
  at: string;
  /** The last call of the row (ISO); null when it is `at` (and on rows from before 0012). */
  last_at: string | null;
  key_id: string | null;
  key_start: string | null;
  environment: string;
  permissions: string | null;
  resource: string | null;
  code: string;
  ip: string | null;
  user_agent: string | null;
  /** The slowest call of the row (µs). */
  latency_us: number;
  /** The sum of the calls' latencies (µs); null when it is `latency_us` (and before 0012). */
  latency_sum_us: number | null;
  /** Calls counted in the row. */
  count: number;
  /** 1: the overflow row of its minute and code (the minute's row cap was reached). */
  overflow: number;
  /** 1: calls a narrowing's shadow set would have refused (they were not refused). Migration 0016. */
  shadow: number;
}

/** Verifications per key, day (UTC, YYYY-MM-DD) and outcome. */
export interface KeyUsageDailyTable {
  key_id: string;
  day: string;
  code: string;
  /** 64-bit (migration 0020): PostgreSQL's driver reads it as a string, so readers take `Number(n)`. */
  n: number | string;
}

/** Distinct client IPs, user agents and used permissions per key and day. */
export interface KeyUsageSeenTable {
  key_id: string;
  day: string;
  kind: 'ip' | 'ua' | 'permission';
  value: string;
  /** 64-bit, as `KeyUsageDailyTable.n`. */
  n: number | string;
}

export interface WebhooksTable {
  id: string;
  url: string;
  description: string | null;
  events: string;
  /** HMAC signing secret; shown once at creation, kept to sign deliveries. */
  secret: string;
  status: string;
  created_at: string;
  created_by: string | null;
  /** The team of the admin key that created it; null for a global webhook. */
  team: string | null;
}

export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  event: string;
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at: string;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

/** Once-only event marks (e.g. key.expiring once per key and expiry). */
export interface EventMarksTable {
  mark: string;
  created_at: string;
}

/** Web console sessions. Only hashes of the session and CSRF tokens are stored. */
export interface ConsoleSessionsTable {
  id: string;
  token_hash: string;
  csrf_hash: string;
  /** Who the session acts as: an admin key's id (`adm_…`) or a member's id (`mem_…`). */
  admin_key_id: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ended_at: string | null;
  ip: string | null;
  user_agent: string | null;
}

/** Owner mail (services/mail): one row per message, retried until delivered or given up. */
export interface MailDeliveriesTable {
  id: string;
  occasion: string;
  recipient: string;
  key_id: string | null;
  team: string | null;
  subject: string;
  text_body: string;
  html_body: string;
  status: string;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

/** People who sign in to the console (migration 0019_members). `email` is stored in lower case. */
export interface MembersTable {
  id: string;
  email: string;
  name: string | null;
  role: string;
  team: string | null;
  source: string;
  created_at: string;
  created_by: string | null;
  updated_at: string;
  last_sign_in_at: string | null;
  /** Set when the member is removed: the row stays so the audit log can still name the person. */
  removed_at: string | null;
}

/** One OpenID Connect login in flight: its state, PKCE verifier and nonce, used at most once. */
export interface OidcLoginsTable {
  state_hash: string;
  /** Hash of the random value in the browser's login cookie: the callback must come from that browser. */
  binding_hash: string;
  code_verifier: string;
  nonce: string;
  created_at: string;
  used_at: string | null;
}
export interface Database {
  mail_deliveries: MailDeliveriesTable;
  members: MembersTable;
  oidc_logins: OidcLoginsTable;
  console_sessions: ConsoleSessionsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  event_marks: EventMarksTable;
  verification_log: VerificationLogTable;
  key_usage_daily: KeyUsageDailyTable;
  key_usage_seen: KeyUsageSeenTable;
  keys: KeysTable;
  identities: IdentitiesTable;
  key_secrets: KeySecretsTable;
  roles: RolesTable;
  key_roles: KeyRolesTable;
  admin_keys: AdminKeysTable;
  audit_log: AuditLogTable;
  audit_head: AuditHeadTable;
  meta: MetaTable;
}
