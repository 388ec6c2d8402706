import {
  sql,
  type ColumnDefinitionBuilder,
  type Kysely,
  type Migration,
  type MigrationProvider,
} from 'kysely';
import { switchOverTag } from '../core/audit.js';
import { isSealed, seal, type ServerKeys } from '../core/secrets.js';

/**
 * Migrations in code (not files on disk) so the compiled package carries them; the same
 * statements run on SQLite and PostgreSQL, except where a migration says otherwise.
 */
const migrations = (dialect: 'sqlite' | 'postgres', keys?: ServerKeys): Record<string, Migration> => ({
  '0001_core': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('system', 'text')
        .addColumn('purpose', 'text')
        .addColumn('owner_team', 'text')
        .addColumn('owner_contact', 'text')
        .addColumn('customer_id', 'text')
        .addColumn('permissions', 'text', (c) => c.notNull())
        .addColumn('ratelimits', 'text', (c) => c.notNull())
        .addColumn('credits_remaining', 'integer')
        .addColumn('credits_refill', 'text')
        .addColumn('ip_allowlist', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('key_start', 'text', (c) => c.notNull())
        .addColumn('key_end', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .addColumn('disabled_at', 'text')
        .addColumn('disabled_reason', 'text')
        .addColumn('rotated_at', 'text')
        .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
        .execute();
      // A name identifies one live key (system-env-purpose); reclaimed keys free their name.
      await db.schema
        .createIndex('keys_name_live')
        .unique()
        .on('keys')
        .column('name')
        .where(sql.ref('status'), '<>', 'deleted')
        .execute();
      await db.schema.createIndex('keys_env').on('keys').columns(['environment', 'id']).execute();
      await db.schema.createIndex('keys_team').on('keys').columns(['owner_team', 'id']).execute();
      await db.schema.createIndex('keys_customer').on('keys').columns(['customer_id', 'id']).execute();
      await db.schema.createIndex('keys_status').on('keys').columns(['status', 'id']).execute();

      await db.schema
        .createTable('key_secrets')
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('key_id', 'text', (c) => c.notNull().references('keys.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('replaced_at', 'text')
        .execute();
      await db.schema.createIndex('key_secrets_key').on('key_secrets').column('key_id').execute();

      await db.schema
        .createTable('admin_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('key_start', 'text', (c) => c.notNull())
        .addColumn('key_end', 'text', (c) => c.notNull())
        .addColumn('permissions', 'text', (c) => c.notNull())
        .addColumn('team', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .addColumn('disabled_at', 'text')
        .execute();

      await db.schema
        .createTable('audit_log')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target', 'text')
        .addColumn('before', 'text')
        .addColumn('after', 'text')
        .addColumn('ip', 'text')
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_target').on('audit_log').columns(['target', 'id']).execute();
      await db.schema
        .createTable('audit_head')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db
        .insertInto('audit_head' as never)
        .values({ id: 1, seq: 0, hash: '' })
        .execute();

      await db.schema
        .createTable('meta')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0002_usage': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('keys').addColumn('credits_refilled_at', 'text').execute();
      await db.schema
        .createTable('verification_log')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text')
        .addColumn('key_start', 'text')
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('permissions', 'text')
        .addColumn('resource', 'text')
        .addColumn('code', 'text', (c) => c.notNull())
        .addColumn('ip', 'text')
        .addColumn('user_agent', 'text')
        .addColumn('latency_us', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('vlog_key').on('verification_log').columns(['key_id', 'id']).execute();
      await db.schema.createIndex('vlog_at').on('verification_log').column('at').execute();
      await db.schema
        .createTable('key_usage_daily')
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('code', 'text', (c) => c.notNull())
        .addColumn('n', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('key_usage_daily_pk', ['key_id', 'day', 'code'])
        .execute();
      await db.schema
        .createTable('key_usage_seen')
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('n', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('key_usage_seen_pk', ['key_id', 'day', 'kind', 'value'])
        .execute();
    },
  },
  '0003_webhooks': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('webhooks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('events', 'text', (c) => c.notNull())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text')
        .execute();
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('webhook_id', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'text', (c) => c.notNull())
        .addColumn('last_status_code', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('delivered_at', 'text')
        .execute();
      await db.schema
        .createIndex('deliveries_due')
        .on('webhook_deliveries')
        .columns(['status', 'next_attempt_at'])
        .execute();
      await db.schema
        .createIndex('deliveries_hook')
        .on('webhook_deliveries')
        .columns(['webhook_id', 'id'])
        .execute();
      await db.schema
        .createTable('event_marks')
        .addColumn('mark', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0004_log_indexes': {
    async up(db: Kysely<unknown>) {
      // GET /v1/logs?code=… and the report's test-keys-in-production query scan by outcome.
      await db.schema.createIndex('vlog_code').on('verification_log').columns(['code', 'id']).execute();
      await db.schema.createIndex('keys_last_used').on('keys').column('last_used_at').execute();
    },
  },
  '0005_console_sessions': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('console_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('csrf_hash', 'text', (c) => c.notNull())
        .addColumn('admin_key_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .addColumn('ip', 'text')
        .addColumn('user_agent', 'text')
        .execute();
    },
  },
  '0006_vlog_code_rare': {
    async up(db: Kysely<unknown>) {
      // Nearly every row is VALID: indexing those added to every verification's log row write
      // and served no query (a VALID filter finds its rows walking the primary key). Queries on
      // other codes name the index's predicate (usage-repo.ts). See docs/hot-path.md.
      await db.schema.dropIndex('vlog_code').execute();
      await db.schema
        .createIndex('vlog_code_rare')
        .on('verification_log')
        .columns(['code', 'id'])
        .where(sql.ref('code'), '<>', 'VALID')
        .execute();
    },
  },
  '0007_text_collate_c': {
    async up(db: Kysely<unknown>) {
      // Ids are time-ordered base62 (0-9A-Za-z): newest-first lists and keyset cursors need text
      // compared byte by byte, as SQLite always does. PostgreSQL compares with the database's
      // collation, and under an en_US locale (the official Docker image's default) `a` sorts
      // before `Z`, so lists came out of order and cursors skipped rows. Every text column of
      // Keywarden's tables gets the "C" collation, which also makes names and other text sort
      // as on SQLite. Indexes on these columns are rebuilt; rows are not rewritten.
      if (dialect !== 'postgres') return;
      await collateTextColumnsC(db, KEYWARDEN_TABLES_0006);
    },
  },
  '0008_keys_last_used_unindexed': {
    async up(db: Kysely<unknown>) {
      // No query filters or sorts keys by last use (the stale-keys report reads every key in the
      // core), while every flush moved each used key's entry in this index, paid per log row
      // (docs/hot-path.md#verification-log-indexes).
      await db.schema.dropIndex('keys_last_used').ifExists().execute();
    },
  },
  '0009_team_boundary': {
    async up(db: Kysely<unknown>) {
      // The team an audit row's target belongs to (a team-scoped auditor reads only its team's
      // rows) and the team that owns a webhook (null: global). Kept outside the chained content:
      // it says who may read a row, not what happened.
      const text = (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder =>
        dialect === 'postgres' ? c.modifyEnd(sql`collate "C"`) : c;
      await db.schema.alterTable('audit_log').addColumn('team', 'text', text).execute();
      await db.schema.createIndex('audit_log_team').on('audit_log').columns(['team', 'id']).execute();
      await db.schema.alterTable('webhooks').addColumn('team', 'text', text).execute();
      // When a secret was reported leaked: its key cannot be enabled again until regenerated.
      await db.schema.alterTable('key_secrets').addColumn('leaked_at', 'text', text).execute();
      await db.schema.alterTable('admin_keys').addColumn('leaked_at', 'text', text).execute();
      // Rows written before: the team of their target key or admin key; a webhook takes the team
      // of the admin key that created it.
      await sql`update audit_log set team = (select k.owner_team from keys k where k.id = audit_log.target)
        where team is null and target like 'key_%'`.execute(db);
      await sql`update audit_log set team = (select a.team from admin_keys a where a.id = audit_log.target)
        where team is null and target like 'adm_%'`.execute(db);
      await sql`update webhooks set team = (select a.team from admin_keys a where a.id = webhooks.created_by)
        where team is null`.execute(db);
    },
  },
  '0010_audit_hmac': {
    async up(db: Kysely<unknown>) {
      // The audit chain becomes HMAC-SHA-256 under a key derived from the server secret, and
      // webhook signing secrets are encrypted with another derived key. Rows already written keep
      // their SHA-256 links: the first row linked with HMAC is recorded here, sealed with the
      // chain's key so it cannot be moved to pass rewritten rows off as old ones. Done in the
      // migration (one transaction) so no start can leave a switch-over recorded but unsealed.
      if (keys === undefined) throw new Error('migration 0010_audit_hmac needs the server secret');
      const head = await sql<{ seq: number | string }>`select seq from audit_head where id = 1`.execute(db);
      const firstKeyed = Number(head.rows[0]?.seq ?? 0) + 1;
      await sql`insert into meta (name, value) values
        ('audit.keyed_from', ${String(firstKeyed)}),
        ('audit.keyed_from_tag', ${switchOverTag(keys.auditChain, firstKeyed)})`.execute(db);
      const hooks = await sql<{ id: string; secret: string }>`select id, secret from webhooks`.execute(db);
      for (const h of hooks.rows) {
        if (isSealed(h.secret)) continue;
        await sql`update webhooks set secret = ${seal(keys.webhookSecrets, h.secret, h.id)}
          where id = ${h.id}`.execute(db);
      }
    },
  },
  '0012_minute_log': {
    async up(db: Kysely<unknown>) {
      // One row per minute per distinct call (docs/verification-log.md). The existing per-call rows
      // stay as they are and read as minute rows of one call (count 1, last_at = at): adding
      // columns with constant defaults rewrites no row on either database, so the upgrade of a
      // log of hundreds of millions of rows takes no time; they age out with retention.
      await db.schema
        .alterTable('verification_log')
        .addColumn('count', 'integer', (c) => c.notNull().defaultTo(1))
        .execute();
      await db.schema
        .alterTable('verification_log')
        .addColumn('overflow', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('verification_log')
        .addColumn('last_at', dialect === 'postgres' ? sql`text collate "C"` : 'text')
        .execute();
      // A sum of microseconds passes 2^31 within a busy minute: a double holds it exactly.
      await db.schema
        .alterTable('verification_log')
        .addColumn('latency_sum_us', dialect === 'postgres' ? 'double precision' : 'real')
        .execute();
    },
  },
  '0013_identities': {
    async up(db: Kysely<unknown>) {
      // Identities (issue 22; docs/identities.md): one customer's limits and credits, shared by the
      // keys that link to it. externalId is unique per deployment. Text columns get COLLATE "C"
      // on PostgreSQL like every other (0007): ids sort byte by byte for keyset pages.
      const text = (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder =>
        dialect === 'postgres' ? c.modifyEnd(sql`collate "C"`) : c;
      await db.schema
        .createTable('identities')
        .addColumn('id', 'text', (c) => text(c.primaryKey()))
        .addColumn('external_id', 'text', (c) => text(c.notNull().unique()))
        .addColumn('name', 'text', text)
        .addColumn('owner_team', 'text', text)
        .addColumn('owner_contact', 'text', text)
        .addColumn('ratelimits', 'text', (c) => text(c.notNull()))
        .addColumn('credits_remaining', 'integer')
        .addColumn('credits_refill', 'text', text)
        .addColumn('credits_refilled_at', 'text', text)
        .addColumn('metadata', 'text', (c) => text(c.notNull()))
        .addColumn('created_at', 'text', (c) => text(c.notNull()))
        .addColumn('created_by', 'text', text)
        .addColumn('updated_at', 'text', (c) => text(c.notNull()))
        .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
        .execute();
      await db.schema.createIndex('identities_team').on('identities').columns(['owner_team', 'id']).execute();
      // Nullable, no default: adding it rewrites no row on either database.
      await db.schema.alterTable('keys').addColumn('identity_id', 'text', text).execute();
      await db.schema.createIndex('keys_identity').on('keys').columns(['identity_id', 'id']).execute();
    },
  },
  '0014_roles': {
    async up(db: Kysely<unknown>) {
      // Roles: named permission sets many keys hold (docs/roles.md). A key's role names are kept
      // on the key (JSON, as its permissions) and indexed in key_roles, which answers "who holds
      // this role" for invalidation, policy checks and the 409 on delete.
      const text = (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder =>
        dialect === 'postgres' ? c.modifyEnd(sql`collate "C"`) : c;
      await db.schema
        .createTable('roles')
        .addColumn('name', 'text', (c) => text(c.primaryKey()))
        .addColumn('description', 'text', text)
        .addColumn('permissions', 'text', (c) => text(c.notNull()))
        .addColumn('created_at', 'text', (c) => text(c.notNull()))
        .addColumn('created_by', 'text', text)
        .addColumn('updated_at', 'text', (c) => text(c.notNull()))
        .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
        .execute();
      await db.schema
        .createTable('key_roles')
        .addColumn('key_id', 'text', (c) => text(c.notNull().references('keys.id')))
        .addColumn('role', 'text', (c) => text(c.notNull().references('roles.name')))
        .addPrimaryKeyConstraint('key_roles_pk', ['key_id', 'role'])
        .execute();
      await db.schema.createIndex('key_roles_role').on('key_roles').columns(['role', 'key_id']).execute();
      // Constant default: no row is rewritten on either database.
      await db.schema
        .alterTable('keys')
        .addColumn('roles', 'text', (c) => text(c.notNull().defaultTo('[]')))
        .execute();
    },
  },
  '0015_imported_keys': {
    async up(db: Kysely<unknown>) {
      // Keys brought in from another system keep their strings (docs/import.md): when and how
      // (from the plaintext or from its SHA-256 hash only). Null for keys Keywarden generated.
      const text = (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder =>
        dialect === 'postgres' ? c.modifyEnd(sql`collate "C"`) : c;
      await db.schema.alterTable('keys').addColumn('imported_at', 'text', text).execute();
      await db.schema.alterTable('keys').addColumn('imported_from', 'text', text).execute();
      await db.schema.createIndex('keys_imported').on('keys').column('imported_at').execute();
    },
  },
  '0016_narrowing': {
    async up(db: Kysely<unknown>) {
      // A key's narrowing in progress (JSON, docs/narrowing.md): on the key's row, so the cached
      // entry carries it and the verifier decides the shadow set without a storage read.
      await db.schema.alterTable('keys').addColumn('narrowing', textC(dialect)).execute();
      // Calls the narrower set would have refused, logged like other calls but marked.
      await db.schema
        .alterTable('verification_log')
        .addColumn('shadow', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createIndex('vlog_shadow')
        .on('verification_log')
        .columns(['key_id', 'id'])
        .where(sql.ref('shadow'), '=', 1)
        .execute();
    },
  },
  '0017_notifications': {
    async up(db: Kysely<unknown>) {
      // Owner mail (docs/notifications.md): one row per message, delivered with retries.
      const t = textC(dialect);
      await db.schema
        .createTable('mail_deliveries')
        .addColumn('id', t, (c) => c.primaryKey())
        .addColumn('occasion', t, (c) => c.notNull())
        .addColumn('recipient', t, (c) => c.notNull())
        .addColumn('key_id', t)
        .addColumn('team', t)
        .addColumn('subject', t, (c) => c.notNull())
        .addColumn('text_body', t, (c) => c.notNull())
        .addColumn('html_body', t, (c) => c.notNull())
        .addColumn('status', t, (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', t, (c) => c.notNull())
        .addColumn('last_error', t)
        .addColumn('created_at', t, (c) => c.notNull())
        .addColumn('delivered_at', t)
        .execute();
      await db.schema
        .createIndex('mail_due')
        .on('mail_deliveries')
        .columns(['status', 'next_attempt_at'])
        .execute();
    },
  },
  '0019_members': {
    async up(db: Kysely<unknown>) {
      // Members (people who sign in to the console, with a role) and OpenID Connect logins in
      // flight. A console session's admin_key_id then holds a member's id (`mem_…`) as well.
      const text = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
      await db.schema
        .createTable('members')
        .addColumn('id', text, (c) => c.primaryKey())
        .addColumn('email', text, (c) => c.notNull())
        .addColumn('name', text)
        .addColumn('role', text, (c) => c.notNull())
        .addColumn('team', text)
        .addColumn('source', text, (c) => c.notNull())
        .addColumn('created_at', text, (c) => c.notNull())
        .addColumn('created_by', text)
        .addColumn('updated_at', text, (c) => c.notNull())
        .addColumn('last_sign_in_at', text)
        .addColumn('removed_at', text)
        .execute();
      // One live member per email; removed ones stay (the audit log names them).
      await db.schema
        .createIndex('members_live_email')
        .on('members')
        .column('email')
        .unique()
        .where(sql.ref('removed_at'), 'is', null)
        .execute();
      await db.schema
        .createTable('oidc_logins')
        .addColumn('state_hash', text, (c) => c.primaryKey())
        .addColumn('binding_hash', text, (c) => c.notNull())
        .addColumn('code_verifier', text, (c) => c.notNull())
        .addColumn('nonce', text, (c) => c.notNull())
        .addColumn('created_at', text, (c) => c.notNull())
        .addColumn('used_at', text)
        .execute();
      await db.schema
        .createIndex('console_sessions_principal')
        .on('console_sessions')
        .column('admin_key_id')
        .execute();
    },
  },
  '0020_usage_counters_64bit': {
    async up(db: Kysely<unknown>) {
      // A key's calls of a day and outcome passed PostgreSQL's 32-bit integer after 2^31 of them
      // (25,000 a second for a day, within reach of a few nodes): the counter's upsert then failed
      // with "integer out of range", and so did every usage write after it, as each carries that
      // counter. 64-bit like SQLite's integers. Rewrites these tables only (a row per key, day and
      // outcome or value: bounded by keys, not by traffic); the log's per-minute counts stay 32-bit.
      if (dialect !== 'postgres') return;
      for (const table of ['key_usage_daily', 'key_usage_seen'])
        await db.schema
          .alterTable(table)
          .alterColumn('n', (c) => c.setDataType('bigint'))
          .execute();
    },
  },
  '0021_log_without_at_index': {
    async up(db: Kysely<unknown>) {
      // A minute row's id carries the time of its first call (core/ids.ts `idAt`), so a time range
      // of the log is a range of its primary key (usage-repo.ts `inLogIdRange`): the index on `at`
      // served only that, and cost an index entry per row (about an eighth of the log's size).
      await db.schema.dropIndex('vlog_at').ifExists().execute();
    },
  },
  '0022_usage_counters_without_rowid': {
    async up(db: Kysely<unknown>) {
      // SQLite kept each counter twice: in the table (by rowid) and in its primary key's index,
      // which every read and upsert goes through. WITHOUT ROWID tables are that index alone: about
      // half the counters' size. Rebuilt in one transaction (SQLite's DDL is transactional; a rerun
      // after a crash before Kysely records the migration rebuilds again). The tables hold a row per
      // key, day and outcome or value, not per call: a store of 10k keys and a year of daily usage
      // (tens of millions of rows) takes tens of seconds, once. PostgreSQL stores a table apart from
      // its indexes either way.
      if (dialect !== 'sqlite') return;
      await db.transaction().execute(async (trx) => {
        for (const [table, columns, key] of [
          [
            'key_usage_daily',
            'key_id text not null, day text not null, code text not null, n integer not null',
            'key_id, day, code',
          ],
          [
            'key_usage_seen',
            'key_id text not null, day text not null, kind text not null, value text not null, n integer not null',
            'key_id, day, kind, value',
          ],
        ] as const) {
          await sql.raw(`drop table if exists ${table}_0022`).execute(trx);
          await sql
            .raw(`create table ${table}_0022 (${columns}, primary key (${key})) without rowid`)
            .execute(trx);
          await sql
            .raw(`insert into ${table}_0022 select ${key}, n from ${table} order by ${key}`)
            .execute(trx);
          await sql.raw(`drop table ${table}`).execute(trx);
          await sql.raw(`alter table ${table}_0022 rename to ${table}`).execute(trx);
        }
      });
    },
  },
});

/** A text column as later migrations add them: byte-ordered ("C") on PostgreSQL, as 0007 made the others. */
function textC(dialect: 'sqlite' | 'postgres') {
  return dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
}

/** The tables migrations 0001–0006 create: what 0007 gives the "C" collation. */
const KEYWARDEN_TABLES_0006 = [
  'keys',
  'key_secrets',
  'admin_keys',
  'audit_log',
  'audit_head',
  'meta',
  'verification_log',
  'key_usage_daily',
  'key_usage_seen',
  'webhooks',
  'webhook_deliveries',
  'event_marks',
  'console_sessions',
];

/**
 * Sets COLLATE "C" on the text columns of `tables` (in the current schema) that do not have it,
 * one ALTER TABLE per table. Named tables only: the schema (often `public`) may hold other
 * applications' tables and views, which are not Keywarden's to change. A later migration that
 * adds a text column names its collation itself (collation.test.ts checks every table).
 */
async function collateTextColumnsC(db: Kysely<unknown>, tables: readonly string[]): Promise<void> {
  const { rows } = await sql<{ table_name: string; column_name: string }>`
    select c.table_name, c.column_name
    from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'
      and c.table_name in (${sql.join(tables)})
      and c.data_type = 'text' and c.collation_name is distinct from 'C'
    order by c.table_name, c.ordinal_position`.execute(db);
  const byTable = new Map<string, string[]>();
  for (const r of rows) byTable.set(r.table_name, [...(byTable.get(r.table_name) ?? []), r.column_name]);
  for (const [table, columns] of byTable) {
    const alters = columns.map((c) => sql`alter column ${sql.id(c)} type text collate "C"`);
    await sql`alter table ${sql.id(table)} ${sql.join(alters)}`.execute(db);
  }
}

/** `keys` (the server secret's subkeys) is needed from 0010_audit_hmac on. */
export const migrationProvider = (dialect: 'sqlite' | 'postgres', keys?: ServerKeys): MigrationProvider => ({
  getMigrations: () => Promise.resolve(migrations(dialect, keys)),
});
