import { LRUCache } from 'lru-cache';
import { KeywardenError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { toPage } from '../core/page.js';
import { normalizeTime } from '../core/key-input.js';
import { generateKey, maskParts, parseKey } from '../core/keys.js';
import { adminAllows, type Actor, type AdminKeyRecord, type AdminPermission } from '../core/model.js';
import {
  findAdminByHash,
  getAdminRow,
  insertAdminKey,
  listAdminRows,
  setAdminStatus,
  toAdminRecord,
  type AdminKeyRow,
} from '../storage/admin-keys-repo.js';
import { appendAudit } from '../storage/audit-repo.js';
import { getMeta, insertMeta } from '../storage/meta-repo.js';
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

/**
 * Admin keys: authentication of every admin request, and their management. Lookups are cached
 * briefly (by hash); any change to an admin key clears that cache on every node.
 */
export class AdminService {
  private readonly authCache = new LRUCache<
    string,
    { row: AdminKeyRow; permissions: ReadonlySet<AdminPermission> }
  >({
    max: 10_000,
    ttl: 10_000,
  });

  constructor(private readonly ctx: ServiceContext) {}

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
    return cached === undefined ? undefined : this.actorOf(cached, ip);
  }

  private async authenticateFromStorage(header: string | undefined, ip: string | null): Promise<Actor> {
    const hash = this.hashOf(header);
    const row = await findAdminByHash(this.ctx.storage.db, hash);
    if (row === undefined) throw unauthenticated('unknown admin key');
    // Parsed once per cache entry, not per request.
    const cached = { row, permissions: new Set(JSON.parse(row.permissions) as AdminPermission[]) };
    this.authCache.set(hash, cached);
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
    if (row.expires_at !== null && Date.parse(row.expires_at) <= this.ctx.clock.now())
      throw unauthenticated('this admin key has expired');
    return { id: row.id, permissions, team: row.team, ip };
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
    };
  }

  /** Drops cached admin keys (called on any admin key change, here or on another node). */
  resetCache(): void {
    this.authCache.clear();
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
    return this.insert(actor, { ...input, team: team ?? null }, () => Promise.resolve());
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
    if (row === undefined || (actor.team !== null && row.team !== actor.team)) {
      throw new KeywardenError('NOT_FOUND', `no admin key with id ${id}`);
    }
    return toAdminRecord(row, nowIso(this.ctx));
  }

  async setStatus(
    actor: Actor,
    id: string,
    status: 'active' | 'disabled' | 'deleted',
  ): Promise<AdminKeyRecord> {
    const before = await this.get(actor, id);
    if (before.status === 'deleted') throw new KeywardenError('CONFLICT', `admin key ${id} is deleted`);
    const at = nowIso(this.ctx);
    const action =
      status === 'active'
        ? 'admin_key.enable'
        : status === 'disabled'
          ? 'admin_key.disable'
          : 'admin_key.delete';
    await this.ctx.storage.db.transaction().execute(async (trx) => {
      await setAdminStatus(trx, id, status, at);
      const after = { ...before, status, disabledAt: status === 'active' ? null : at };
      await appendAudit(trx, { at, actor: actor.id, action, target: id, before, after, ip: actor.ip });
    });
    this.resetCache();
    await this.ctx.bus.publish(id).catch((err: unknown) => {
      this.ctx.log.warn({ err }, 'could not publish an admin key invalidation');
    });
    return this.get(actor, id);
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
      });
    });
    return { key, record };
  }
}
