import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { KeywardenError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Actor } from '../core/model.js';
import {
  endSessionByTokenHash,
  findSessionByTokenHash,
  insertSession,
  touchSession,
} from '../storage/sessions-repo.js';
import type { MemberRecord } from '../core/members.js';
import type { AdminService } from './admin-service.js';
import type { ServiceContext } from './context.js';
import { MEMBER_ID_PREFIX, type MembersService } from './members-service.js';

export const SESSION_COOKIE = 'kw_session';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** last_seen_at is written at most this often per session, not on every request. */
const TOUCH_EVERY_MS = 60_000;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('base64url');
const token = (): string => randomBytes(32).toString('base64url');
/**
 * The CSRF token is derived from the session token, so a reloaded console page can ask for it
 * again (GET /console/api/session); only the same origin can read that answer, and only the
 * HttpOnly cookie's holder can compute it.
 */
const csrfOf = (sessionToken: string): string => sha256(`csrf\0${sessionToken}`);

/** Reads one cookie from the Cookie header (names and values as browsers send them). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface SessionInfo {
  csrfToken: string;
  expiresAt: string;
  /** Who the session acts as: the admin key, or for a member's session the member (id `mem_…`, name or email). */
  adminKey: { id: string; name: string; permissions: string[]; team: string | null };
  /** The person, when a member signed in (by SSO); null for an admin-key session. */
  member: { id: string; email: string; name: string | null; role: string } | null;
}

function memberInfo(m: MemberRecord): Pick<SessionInfo, 'adminKey' | 'member'> {
  return {
    adminKey: { id: m.id, name: m.name ?? m.email, permissions: m.permissions, team: m.team },
    member: { id: m.id, email: m.email, name: m.name, role: m.role },
  };
}

/**
 * Server-side sessions for the web console: an admin key is exchanged once for a random session
 * token (HttpOnly, SameSite=Strict cookie); the database keeps only hashes. A session may do
 * exactly what its admin key may do, and dies with it (disabled, deleted, expired), on sign-out,
 * after `idleMinutes` without a request, or `maxHours` after sign-in. State-changing requests must
 * carry the session's CSRF token in `X-CSRF-Token`.
 */
export class ConsoleSessions {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly admin: AdminService,
    private readonly members: MembersService,
    private readonly opts: { idleMinutes: number; maxHours: number },
  ) {}

  async signIn(
    adminKey: string,
    ip: string | null,
    userAgent: string | null,
  ): Promise<{ token: string; info: SessionInfo }> {
    const actor = await this.admin.authenticate(`Bearer ${adminKey}`, ip);
    const record = await this.admin.get(actor, actor.id);
    return this.open(actor.id, ip, userAgent, {
      adminKey: { id: record.id, name: record.name, permissions: record.permissions, team: record.team },
      member: null,
    });
  }

  /** A session for a member the identity provider vouched for (SSO). */
  async signInMember(
    member: MemberRecord,
    ip: string | null,
    userAgent: string | null,
  ): Promise<{ token: string; info: SessionInfo }> {
    await this.members.signedIn(member.id);
    return this.open(member.id, ip, userAgent, memberInfo(member));
  }

  private async open(
    principalId: string,
    ip: string | null,
    userAgent: string | null,
    who: Pick<SessionInfo, 'adminKey' | 'member'>,
  ): Promise<{ token: string; info: SessionInfo }> {
    const now = this.ctx.clock.now();
    const at = new Date(now).toISOString();
    const sessionToken = token();
    const csrfToken = csrfOf(sessionToken);
    const expiresAt = new Date(now + this.opts.maxHours * 3_600_000).toISOString();
    await insertSession(this.ctx.storage.db, {
      id: newId('ses', now),
      token_hash: sha256(sessionToken),
      csrf_hash: sha256(csrfToken),
      admin_key_id: principalId,
      created_at: at,
      last_seen_at: at,
      expires_at: expiresAt,
      ended_at: null,
      ip,
      user_agent: userAgent?.slice(0, 256) ?? null,
    });
    return { token: sessionToken, info: { csrfToken, expiresAt, ...who } };
  }

  /** The actor of the request's session cookie; null when there is no cookie. Throws when the session is not usable. */
  async authenticate(req: FastifyRequest): Promise<Actor | null> {
    const raw = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (raw === undefined || raw === '') return null;
    const s = await findSessionByTokenHash(this.ctx.storage.db, sha256(raw));
    const now = this.ctx.clock.now();
    if (s === undefined || s.ended_at !== null)
      throw new KeywardenError('UNAUTHENTICATED', 'the console session has ended; sign in again');
    if (Date.parse(s.expires_at) <= now)
      throw new KeywardenError(
        'UNAUTHENTICATED',
        'the console session reached its maximum age; sign in again',
      );
    if (now - Date.parse(s.last_seen_at) > this.opts.idleMinutes * 60_000) {
      throw new KeywardenError(
        'UNAUTHENTICATED',
        `the console session was idle for more than ${this.opts.idleMinutes} minutes; sign in again`,
      );
    }
    if (!SAFE_METHODS.has(req.method)) {
      const sent = req.headers['x-csrf-token'];
      if (typeof sent !== 'string' || !sameHash(sha256(sent), s.csrf_hash)) {
        throw new KeywardenError('FORBIDDEN', 'missing or wrong X-CSRF-Token for this console session');
      }
    }
    // A member is read on every request: removed or demoted, the session ends or narrows at once.
    const actor = s.admin_key_id.startsWith(MEMBER_ID_PREFIX)
      ? await this.members.actorById(s.admin_key_id, req.ip)
      : await this.admin.actorById(s.admin_key_id, req.ip);
    if (now - Date.parse(s.last_seen_at) > TOUCH_EVERY_MS) {
      await touchSession(this.ctx.storage.db, s.id, new Date(now).toISOString());
    }
    return actor;
  }

  async info(req: FastifyRequest, actor: Actor): Promise<SessionInfo> {
    const raw = readCookie(req.headers.cookie, SESSION_COOKIE) ?? '';
    const s = await findSessionByTokenHash(this.ctx.storage.db, sha256(raw));
    const who = actor.id.startsWith(MEMBER_ID_PREFIX)
      ? memberInfo(await this.members.get(actor, actor.id))
      : await this.admin.get(actor, actor.id).then((r) => ({
          adminKey: { id: r.id, name: r.name, permissions: r.permissions, team: r.team },
          member: null,
        }));
    return { csrfToken: csrfOf(raw), expiresAt: s?.expires_at ?? '', ...who };
  }

  async signOut(req: FastifyRequest): Promise<void> {
    const raw = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (raw === undefined) return;
    await endSessionByTokenHash(
      this.ctx.storage.db,
      sha256(raw),
      new Date(this.ctx.clock.now()).toISOString(),
    );
  }
}
