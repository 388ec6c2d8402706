import { LRUCache } from 'lru-cache';
import { KeywardenError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { toPage } from '../core/page.js';
import { normalizeTime } from '../core/key-input.js';
import { generateKey, maskParts, parseKey } from '../core/keys.js';
import {
  adminAllows,
  permissionsInclude,
  scopeCovers,
  type Actor,
  type AdminKeyRecord,
  type AdminPermission,
} from '../core/model.js';
import {
  countLiveGlobalRoots,
  findAdminByHash,
  getAdminRow,
  insertAdminKey,
  listAdminRows,
  setAdminLeaked,
  setAdminSecret,
  setAdminStatus,
  toAdminRecord,
  touchAdminLastUsed,
  type AdminKeyRow,
} from '../storage/admin-keys-repo.js';
import { appendAudit } from '../storage/audit-repo.js';
import { getMeta, insertMeta } from '../storage/meta-repo.js';
import { isStorageUnavailable } from '../storage/db.js';
import { nowIso, type ServiceContext } from './context.js';

export interface AdminKeyInput {
  name: string;
  permissions: AdminPermission[];
  team?: string | null;
  expiresAt?: string | null;
}

const unauthenticated = (detail: string): KeywardenError => new KeywardenError('UNAUTHENTICATED', detail);
/** Admin ids are published on the invalidation bus with this prefix so other nodes drop their admin cache. */
export const ADMIN_ID_PREFIX = 'adm_';
/** lastUsedAt of an admin key is written at most this often per key and node. */
const LAST_USED_EVERY_MS = 60_000;

interface CachedAdmin {
  row: AdminKeyRow;
  permissions: ReadonlySet<AdminPermission>;
  /** When the row was read from storage (ms). */
  loadedAtMs: number;
}

/** How long a cached admin key is trusted while the invalidation channel is down (as for keys). */
const ADMIN_STALE_WHEN_DISCONNECTED_MS = 1000;
/** While storage is unreachable, a last-known admin key is re-tried against storage this often. */
const ADMIN_RETRY_WHILE_UNREACHABLE_MS = 1000;

/**
 * Admin keys: authentication of every admin request, and their management. Lookups are cached
 * briefly (by hash); any change to an admin key clears that cache on every node. While storage is
 * unreachable, an admin key seen before keeps authenticating from its last known state (as
 * cached keys keep verifying); a change published on the invalidation channel still clears it.
 */
export class AdminService {
  private readonly authCache: LRUCache<string, CachedAdmin>;
  /** The last state read of each admin key, for storage outages; cleared with the cache. */
  private readonly lastKnown = new LRUCache<string, CachedAdmin>({ max: 10_000 });

  /** When this node last wrote each admin key's lastUsedAt (bounded: old entries are dropped). */
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(
    private readonly ctx: ServiceContext,
    authCache: { ttlMs?: number } = {},
  ) {
    this.authCache = new LRUCache<string, CachedAdmin>({ max: 10_000, ttl: authCache.ttlMs ?? 10_000 });
  }

  /** Resolves `Authorization: Bearer …` to an actor, or throws UNAUTHENTICATED with the reason. */
  async authenticate(header: string | undefined, ip: string | null): Promise<Actor> {
    return this.authenticateSync(header, ip) ?? this.authenticateFromStorage(header, ip);
  }

  /**
   * The same check without a promise when the admin key is cached (every verify call
   * authenticates); undefined when storage has to be read. Throws UNAUTHENTICATED with the reason.
   */
  authenticateSync(header: string | undefined, ip: string | null): Actor | undefined {
    const hash = this.hashOf(header);
    const cached = this.authCache.get(hash);
    if (cached === undefined) return undefined;
    // Invalidations from other nodes may be missed: re-read, as the verifier does for keys.
    if (
      !this.ctx.bus.connected &&
      this.ctx.clock.now() - cached.loadedAtMs > ADMIN_STALE_WHEN_DISCONNECTED_MS
    )
      return undefined;
    return this.actorOf(cached, ip);
  }

  private async authenticateFromStorage(header: string | undefined, ip: string | null): Promise<Actor> {
    const hash = this.hashOf(header);
    let row: AdminKeyRow | undefined;
    try {
      row = await findAdminByHash(this.ctx.storage.db, hash);
    } catch (err) {
      const last = this.lastKnown.get(hash);
      if (last === undefined || !isStorageUnavailable(err)) throw err;
      // Storage is down: answer from the last known state, and spare storage a read per request
      // (the entry is tried again after a second; an invalidation clears it meanwhile).
      this.authCache.set(hash, last, { ttl: ADMIN_RETRY_WHILE_UNREACHABLE_MS });
      return this.actorOf(last, ip);
    }
    if (row === undefined) {
      this.lastKnown.delete(hash);
      throw unauthenticated('unknown admin key');
    }
    // Parsed once per cache entry, not per request.
    const cached: CachedAdmin = {
      row,
      permissions: new Set(JSON.parse(row.permissions) as AdminPermission[]),
      loadedAtMs: this.ctx.clock.now(),
    };
    this.authCache.set(hash, cached);
    this.lastKnown.set(hash, cached);
    return this.actorOf(cached, ip);
  }

  /** The hash of the bearer admin key, after its format is checked (never echoes the key). */
  private hashOf(header: string | undefined): string {
    if (header === undefined || header === '')
      throw unauthenticated('missing Authorization: Bearer <admin key>');
    const m = /^Bearer +(\S+)\s*$/i.exec(header);
    if (m === null) throw unauthenticated('the Authorization header must be "Bearer <admin key>"');
    const key = m[1] ?? '';
    const parsed = parseKey(key, this.ctx.prefix);
    if (parsed === null) throw unauthenticated('the bearer token is not a Keywarden admin key');
    if (parsed.kind !== 'admin') throw unauthenticated('an ordinary API key cannot be used as an admin key');
    return this.ctx.hasher(key);
  }

  private actorOf(
    cached: { row: AdminKeyRow; permissions: ReadonlySet<AdminPermission> },
    ip: string | null,
  ): Actor {
    const { row, permissions } = cached;
    if (row.status !== 'active') throw unauthenticated(`this admin key is ${row.status}`);
    const now = this.ctx.clock.now();
    if (row.expires_at !== null && Date.parse(row.expires_at) <= now)
      throw unauthenticated('this admin key has expired');
    this.touch(row.id, now);
    return { id: row.id, permissions, team: row.team, ip, expiresAt: row.expires_at };
  }

  /**
   * Records the admin key's use at most once a minute per key, off the request's path: the
   * write is not awaited (a verify call never waits for it) and a failure is only logged.
   */
  private touch(id: string, now: number): void {
    const last = this.lastUsedWritten.get(id);
    if (last !== undefined && now - last < LAST_USED_EVERY_MS) return;
    if (this.lastUsedWritten.size >= 10_000) this.lastUsedWritten.clear();
    this.lastUsedWritten.set(id, now);
    touchAdminLastUsed(this.ctx.storage.db, id, new Date(now).toISOString()).catch((err: unknown) => {
      this.ctx.log.warn({ err: (err as Error).message }, 'could not record an admin key use');
    });
  }

  /** The actor of an admin key by id (for console sessions): refused unless the key is active and unexpired. */
  async actorById(id: string, ip: string | null): Promise<Actor> {
    const row = await getAdminRow(this.ctx.storage.db, id);
    if (row === undefined || row.status !== 'active')
      throw unauthenticated(`the session's admin key is ${row?.status ?? 'gone'}`);
    if (row.expires_at !== null && Date.parse(row.expires_at) <= this.ctx.clock.now()) {
      throw unauthenticated("the session's admin key has expired");
    }
    return {
      id: row.id,
      permissions: new Set(JSON.parse(row.permissions) as AdminPermission[]),
      team: row.team,
      ip,
      expiresAt: row.expires_at,
    };
  }

  /**
   * Drops cached admin keys: with an id (a change to that admin key, here or on another node),
   * every entry of it, last known state included; without (the invalidation channel was lost or
   * came back), every entry that spares a storage read, keeping the last known states for a
   * storage outage.
   */
  resetCache(adminId?: string): void {
    if (adminId === undefined) {
      this.authCache.clear();
      return;
    }
    for (const cache of [this.authCache, this.lastKnown]) {
      const stale: string[] = [];
      for (const [hash, entry] of cache.entries()) if (entry.row.id === adminId) stale.push(hash);
      for (const hash of stale) cache.delete(hash);
    }
  }

  /**
   * Creates the store's first (root, `*`) admin key exactly once. The `initialized` latch row makes
   * a second init a no-op refusal even when two processes race.
   */
  async initRoot(): Promise<{ key: string; record: AdminKeyRecord }> {
    const created = await this.insert(null, { name: 'root', permissions: ['*'] }, async (trx, at) => {
      if (!(await insertMeta(trx, 'initialized', at))) {
        throw new KeywardenError(
          'ALREADY_INITIALIZED',
          'this store is already initialised; its root key was shown when it was created',
        );
      }
    });
    return created;
  }

  /**
   * `keywarden admin-keys recover-root`: a new `*` admin key for an operator who lost every root
   * key but has access to the store (no admin key is needed: access to the store is the
   * authority). Audited twice in one transaction: `admin_key.recover_root` (who ran it, and
   * why) and the new key's `admin_key.create`. Existing keys are left as they are.
   */
  async recoverRoot(operator: string, reason: string): Promise<{ key: string; record: AdminKeyRecord }> {
    const day = new Date(this.ctx.clock.now()).toISOString().slice(0, 10);
    return this.insert(null, { name: `root-recovered-${day}`, permissions: ['*'] }, async (trx, at) => {
      if ((await getMeta(trx, 'initialized')) === undefined) {
        throw new KeywardenError('CONFLICT', 'this store is not initialised: run `keywarden init` instead');
      }
      await appendAudit(trx, {
        at,
        actor: null,
        action: 'admin_key.recover_root',
        target: null,
        before: null,
        after: { operator, reason },
        ip: null,
      });
    });
  }

  async create(actor: Actor, input: AdminKeyInput): Promise<{ key: string; record: AdminKeyRecord }> {
    const team = input.team ?? actor.team;
    if (actor.team !== null && team !== actor.team) {
      throw new KeywardenError('FORBIDDEN', `this admin key manages team "${actor.team}" only`);
    }
    // No privilege escalation: an admin key can only hand out permissions it holds.
    for (const p of input.permissions) {
      if (!adminAllows(actor, p))
        throw new KeywardenError('FORBIDDEN', `cannot grant "${p}": this admin key does not hold it`);
    }
    if (input.expiresAt != null && Date.parse(input.expiresAt) <= this.ctx.clock.now()) {
      throw new KeywardenError('VALIDATION_FAILED', `expiresAt ${input.expiresAt} is in the past`);
    }
    // An admin key made by an expiring admin key expires no later than its creator: without an
    // expiry it takes the creator's, a later one is refused (a short-lived key cannot mint a
    // long-lived one).
    let expiresAt = input.expiresAt ?? null;
    const limit = actor.expiresAt ?? null;
    if (limit !== null) {
      if (expiresAt === null) expiresAt = limit;
      else if (Date.parse(expiresAt) > Date.parse(limit)) {
        throw new KeywardenError(
          'POLICY_VIOLATION',
          `expiresAt ${expiresAt} is later than this admin key's own expiry (${limit}); an admin key cannot outlive the key that creates it`,
        );
      }
    }
    return this.insert(actor, { ...input, expiresAt, team: team ?? null }, () => Promise.resolve());
  }

  async list(
    actor: Actor,
    limit: number,
    cursor?: string,
  ): Promise<{ items: AdminKeyRecord[]; nextCursor: string | null }> {
    const rows = await listAdminRows(this.ctx.storage.db, actor.team, limit + 1, cursor);
    const now = nowIso(this.ctx);
    return toPage(
      rows,
      limit,
      (r) => r.id,
      (r) => toAdminRecord(r, now),
    );
  }

  async get(actor: Actor, id: string): Promise<AdminKeyRecord> {
    const row = await getAdminRow(this.ctx.storage.db, id);
    if (row === undefined || !scopeCovers(actor, row.team)) {
      throw new KeywardenError('NOT_FOUND', `no admin key with id ${id}`);
    }
    return toAdminRecord(row, nowIso(this.ctx));
  }

  /**
   * The admin-key hierarchy: acting on an admin key needs a scope that covers its team (else it
   * is not even visible: 404) and every permission it holds (403).
   */
  private async target(actor: Actor, id: string, verb: string): Promise<AdminKeyRow> {
    const row = await getAdminRow(this.ctx.storage.db, id);
    if (row === undefined || !scopeCovers(actor, row.team)) {
      throw new KeywardenError('NOT_FOUND', `no admin key with id ${id}`);
    }
    const held = JSON.parse(row.permissions) as AdminPermission[];
    if (!permissionsInclude(actor.permissions, held)) {
      throw new KeywardenError(
        'FORBIDDEN',
        `cannot ${verb} admin key ${id}: it holds ${held.map((p) => `"${p}"`).join(', ')}, which this admin key does not all hold`,
      );
    }
    return row;
  }
  async setStatus(
    actor: Actor,
    id: string,
    status: 'active' | 'disabled' | 'deleted',
  ): Promise<AdminKeyRecord> {
    const verb = status === 'active' ? 'enable' : status === 'disabled' ? 'disable' : 'delete';
    const row = await this.target(actor, id, verb);
    const at = nowIso(this.ctx);
    const before = toAdminRecord(row, at);
    if (before.status === 'deleted') throw new KeywardenError('CONFLICT', `admin key ${id} is deleted`);
    if (status === 'active' && row.leaked_at !== null) {
      throw new KeywardenError(
        'CONFLICT',
        `admin key ${id} was disabled because its secret was reported leaked (${row.leaked_at}); regenerate it (POST /v1/admin-keys/${id}/regenerate) before enabling it`,
      );
    }
    const action = `admin_key.${verb}`;
    await this.ctx.storage.db.transaction().execute(async (trx) => {
      await setAdminStatus(trx, id, status, at);
      const after = { ...before, status, disabledAt: status === 'active' ? null : at };
      await appendAudit(trx, {
        at,
        actor: actor.id,
        action,
        target: id,
        before,
        after,
        ip: actor.ip,
        team: row.team,
      });
      // Counted after the audit append, which holds the chain head's row lock (PostgreSQL) or
      // the write lock (SQLite) until commit: two concurrent disables of the last two root keys
      // are serialised, and the second sees the first and is refused.
      if (status !== 'active' && (await countLiveGlobalRoots(trx, at)) === 0) {
        throw new KeywardenError(
          'CONFLICT',
          `admin key ${id} is the last active global "*" admin key; create another global "*" key before you ${verb} this one, or nobody could administer this deployment`,
        );
      }
    });
    this.resetCache(id);
    await this.ctx.bus.publish(id).catch((err: unknown) => {
      this.ctx.log.warn({ err }, 'could not publish an admin key invalidation');
    });
    return this.get(actor, id);
  }

  /** A new secret for an admin key (same id, permissions and team); the old one stops working now. */
  async regenerate(actor: Actor, id: string): Promise<{ key: string; record: AdminKeyRecord }> {
    const row = await this.target(actor, id, 'regenerate');
    const at = nowIso(this.ctx);
    const before = toAdminRecord(row, at);
    if (before.status === 'deleted')
      throw new KeywardenError('CONFLICT', `admin key ${id} is deleted and cannot be regenerated`);
    const key = generateKey(this.ctx.prefix, 'adm');
    const { start, end } = maskParts(key);
    await this.ctx.storage.db.transaction().execute(async (trx) => {
      await setAdminSecret(trx, id, { hash: this.ctx.hasher(key), start, end }, at);
      await appendAudit(trx, {
        at,
        actor: actor.id,
        action: 'admin_key.regenerate',
        target: id,
        before,
        after: { ...before, start, end },
        ip: actor.ip,
        team: row.team,
      });
    });
    this.resetCache(id);
    await this.ctx.bus.publish(id).catch((err: unknown) => {
      this.ctx.log.warn({ err }, 'could not publish an admin key invalidation');
    });
    return { key, record: await this.get(actor, id) };
  }

  /** Marks an admin key's secret as leaked (it cannot be enabled again before regenerate). */
  async markLeaked(trx: ServiceContext['storage']['db'], id: string, at: string): Promise<void> {
    await setAdminLeaked(trx, id, at);
  }

  private async insert(
    actor: Actor | null,
    input: AdminKeyInput,
    inTx: (trx: ServiceContext['storage']['db'], at: string) => Promise<void>,
  ): Promise<{ key: string; record: AdminKeyRecord }> {
    const now = this.ctx.clock.now();
    const at = new Date(now).toISOString();
    const key = generateKey(this.ctx.prefix, 'adm');
    const { start, end } = maskParts(key);
    const row: AdminKeyRow = {
      id: newId('adm', now),
      name: input.name,
      hash: this.ctx.hasher(key),
      key_start: start,
      key_end: end,
      permissions: JSON.stringify([...new Set(input.permissions)]),
      team: input.team ?? null,
      status: 'active',
      expires_at: normalizeTime(input.expiresAt),
      created_at: at,
      created_by: actor?.id ?? null,
      updated_at: at,
      last_used_at: null,
      disabled_at: null,
      leaked_at: null,
    };
    const record = toAdminRecord(row, at);
    await this.ctx.storage.db.transaction().execute(async (trx) => {
      await inTx(trx, at);
      await insertAdminKey(trx, row);
      await appendAudit(trx, {
        at,
        actor: actor?.id ?? null,
        action: 'admin_key.create',
        target: row.id,
        before: null,
        after: record,
        ip: actor?.ip ?? null,
        team: row.team,
      });
    });
    return { key, record };
  }
}
