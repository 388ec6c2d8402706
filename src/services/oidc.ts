import { createHash, randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { roleFromGroups, type MemberRecord, type RoleMapping } from '../core/members.js';
import { findOidcLogin, insertOidcLogin, pruneOidcLogins, useOidcLogin } from '../storage/members-repo.js';
import type { ConsoleSessions, SessionInfo } from './console-sessions.js';
import type { ServiceContext } from './context.js';
import type { MembersService } from './members-service.js';

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Keywarden's public URL: the redirect URI is `<publicUrl>/console/api/oidc/callback`. */
  publicUrl: string;
  /** The ID token claim that lists the person's groups (default `groups`). */
  groupsClaim: string;
  /** Groups → role (and team): members made or moved just in time; empty: no mapping. */
  roleMap: readonly RoleMapping[];
  /** How long any request to the provider may take (default 5 s). */
  timeoutSeconds?: number;
}

/** Why a sign-in did not happen: each has its own page (and HTTP status). */
export type OidcFailureReason =
  | 'not_member'
  | 'unverified_email'
  | 'no_email'
  | 'provider_error'
  | 'provider_unreachable'
  | 'bad_state'
  | 'expired_state'
  | 'replayed_state';

export class OidcFailure extends Error {
  constructor(
    readonly reason: OidcFailureReason,
    readonly title: string,
    detail: string,
  ) {
    super(detail);
  }
}

export const OIDC_CALLBACK_PATH = '/console/api/oidc/callback';
/** The cookie that binds a login to the browser that started it. */
export const OIDC_BINDING_COOKIE = 'kw_oidc';
/** A started login must come back within this. */
export const OIDC_LOGIN_TTL_MS = 10 * 60_000;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('base64url');

/** A loopback issuer (development, tests) may be plain HTTP; any other must be HTTPS. */
function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

/**
 * Console sign-in with OpenID Connect: authorization code flow with PKCE, state and nonce, the ID
 * token checked by openid-client (signature, issuer, audience, expiry, nonce). A started login is
 * kept server-side (hashed state; verifier and nonce) and bound to the browser by a cookie, so a
 * callback is accepted once, within ten minutes, from the browser that started it.
 */
export class OidcSignIn {
  private config: oidc.Configuration | undefined;
  private readonly redirectUri: string;
  private readonly timeout: number;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly members: MembersService,
    private readonly sessions: ConsoleSessions,
    private readonly settings: OidcSettings,
  ) {
    this.redirectUri = `${settings.publicUrl.replace(/\/+$/, '')}${OIDC_CALLBACK_PATH}`;
    this.timeout = settings.timeoutSeconds ?? 5;
  }

  get issuer(): string {
    return this.settings.issuer;
  }

  /** The provider's configuration, discovered once (a failed discovery is tried again next time). */
  private async discover(): Promise<oidc.Configuration> {
    if (this.config !== undefined) return this.config;
    const issuer = new URL(this.settings.issuer);
    try {
      const config = await oidc.discovery(
        issuer,
        this.settings.clientId,
        undefined,
        oidc.ClientSecretPost(this.settings.clientSecret),
        {
          timeout: this.timeout,
          // Plain HTTP for a loopback issuer only (development, tests); any other must be HTTPS.
          // eslint-disable-next-line @typescript-eslint/no-deprecated
          ...(isLoopbackHttp(issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
        },
      );
      config.timeout = this.timeout;
      this.config = config;
      return config;
    } catch (err) {
      throw this.unreachable(err);
    }
  }

  private unreachable(err: unknown): OidcFailure {
    const e = err as Error & { cause?: Error & { code?: string } };
    const why =
      e.name === 'TimeoutError' || e.cause?.name === 'TimeoutError'
        ? `it did not answer within ${this.timeout} s`
        : (e.cause?.code ?? e.message);
    this.ctx.log.warn(
      { issuer: this.settings.issuer, err: e.message },
      'the identity provider is unreachable',
    );
    return new OidcFailure(
      'provider_unreachable',
      'The identity provider cannot be reached',
      `Keywarden could not reach the identity provider at ${this.settings.issuer} (${why}). Try again in a moment; an administrator can still sign in with an admin key if that is allowed.`,
    );
  }

  /** Starts a login: where to send the browser, and the binding cookie's value. */
  async start(): Promise<{ url: string; binding: string }> {
    const config = await this.discover();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const verifier = oidc.randomPKCECodeVerifier();
    const binding = randomBytes(32).toString('base64url');
    const now = this.ctx.clock.now();
    await pruneOidcLogins(this.ctx.storage.db, new Date(now - 6 * OIDC_LOGIN_TTL_MS).toISOString());
    await insertOidcLogin(this.ctx.storage.db, {
      state_hash: sha256(state),
      binding_hash: sha256(binding),
      code_verifier: verifier,
      nonce,
      created_at: new Date(now).toISOString(),
      used_at: null,
    });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: 'openid email profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, binding };
  }

  /**
   * Finishes a login from the callback's query string: the state must be one this deployment
   * issued to this browser, unused and fresh; the code is exchanged (PKCE) and the ID token
   * checked; its `email` must be verified and belong to a member (or the groups must map to a
   * role). Throws an OidcFailure saying why not.
   */
  async finish(
    query: string,
    binding: string | undefined,
    ip: string | null,
    userAgent: string | null,
  ): Promise<{ token: string; info: SessionInfo; member: MemberRecord }> {
    const params = new URLSearchParams(query);
    const state = params.get('state');
    if (state === null || state === '') {
      throw new OidcFailure(
        'bad_state',
        'Sign-in response without state',
        'The identity provider answered without the state this sign-in needs. Start again from the sign-in page.',
      );
    }
    const login = await findOidcLogin(this.ctx.storage.db, sha256(state));
    if (login === undefined) {
      throw new OidcFailure(
        'bad_state',
        'Unknown sign-in attempt',
        'This sign-in response does not belong to a sign-in started here (wrong or forged state). Start again from the sign-in page.',
      );
    }
    const now = this.ctx.clock.now();
    const replayed = (): OidcFailure =>
      new OidcFailure(
        'replayed_state',
        'Sign-in response already used',
        'This sign-in response was already used once; it cannot sign anyone in again. Start again from the sign-in page.',
      );
    if (login.used_at !== null) throw replayed();
    if (binding === undefined || sha256(binding) !== login.binding_hash) {
      throw new OidcFailure(
        'bad_state',
        'Unknown sign-in attempt',
        'This sign-in was started in another browser (or its cookie is gone). Start again from the sign-in page in this browser.',
      );
    }
    if (!(await useOidcLogin(this.ctx.storage.db, login.state_hash, new Date(now).toISOString())))
      throw replayed();
    if (now - Date.parse(login.created_at) > OIDC_LOGIN_TTL_MS) {
      throw new OidcFailure(
        'expired_state',
        'Sign-in took too long',
        `This sign-in was started more than ${OIDC_LOGIN_TTL_MS / 60_000} minutes ago and has expired. Start again from the sign-in page.`,
      );
    }
    const providerError = params.get('error');
    if (providerError !== null) {
      const description = params.get('error_description');
      throw new OidcFailure(
        'provider_error',
        'The identity provider refused the sign-in',
        `The identity provider answered "${providerError}"${description !== null ? `: ${description}` : ''}.`,
      );
    }
    const config = await this.discover();
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(
        config,
        new URL(`${this.redirectUri}?${params.toString()}`),
        {
          pkceCodeVerifier: login.code_verifier,
          expectedState: state,
          expectedNonce: login.nonce,
          idTokenExpected: true,
        },
        { redirect_uri: this.redirectUri },
      );
    } catch (err) {
      const e = err as Error & { code?: string; error?: string; error_description?: string };
      if (e.name === 'TimeoutError' || e.name === 'TypeError' || e.code === 'OAUTH_TIMEOUT')
        throw this.unreachable(err);
      const what =
        e.error !== undefined
          ? `${e.error}${e.error_description ? `: ${e.error_description}` : ''}`
          : e.message;
      this.ctx.log.warn({ err: what }, 'an OpenID Connect sign-in failed at the token exchange');
      throw new OidcFailure(
        'provider_error',
        'The sign-in could not be completed',
        `The identity provider's answer was not accepted (${what}). Start again from the sign-in page.`,
      );
    }
    const claims = tokens.claims();
    const email = typeof claims?.email === 'string' ? claims.email : undefined;
    if (claims === undefined || email === undefined) {
      throw new OidcFailure(
        'no_email',
        'No email address from the identity provider',
        'The identity provider did not send an email claim. Ask your administrator to release the "email" scope to Keywarden.',
      );
    }
    if (claims.email_verified !== true) {
      throw new OidcFailure(
        'unverified_email',
        'Email address not verified',
        `The identity provider does not vouch for ${email} (email_verified is not true), so it cannot be matched to a member. Verify the address with your identity provider and try again.`,
      );
    }
    const member = await this.memberFor(email, claims, ip);
    const { token, info } = await this.sessions.signInMember(member, ip, userAgent);
    return { token, info, member };
  }

  /** The member this verified email signs in as: by the group mapping when it applies, else an existing member. */
  private async memberFor(email: string, claims: oidc.IDToken, ip: string | null): Promise<MemberRecord> {
    const name = typeof claims.name === 'string' ? claims.name.slice(0, 128) : null;
    if (this.settings.roleMap.length > 0) {
      const raw = claims[this.settings.groupsClaim];
      const groups = Array.isArray(raw) ? raw.filter((g): g is string => typeof g === 'string') : [];
      const mapping = roleFromGroups(this.settings.roleMap, groups);
      if (mapping !== undefined) return this.members.provision(email, name, mapping, ip);
      const existing = await this.members.byEmail(email);
      if (existing !== undefined && existing.source === 'sso') {
        throw new OidcFailure(
          'not_member',
          'No role for your groups',
          `${email} was given access by group membership, and none of your groups maps to a Keywarden role any more. Ask an administrator.`,
        );
      }
    }
    const member = await this.members.byEmail(email);
    if (member === undefined) {
      throw new OidcFailure(
        'not_member',
        'Not a member',
        `${email} is not a member of this Keywarden deployment. Ask an administrator to add you (keywarden members add ${email} --role …).`,
      );
    }
    return member;
  }
}
