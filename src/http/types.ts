import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { KeywardenError } from '../core/errors.js';
import type { RouteScope } from './authorize.js';
import type { Actor, AdminPermission } from '../core/model.js';
import type { ConsoleSessions } from '../services/console-sessions.js';
import type { AdminService } from '../services/admin-service.js';
import type { ServiceContext } from '../services/context.js';
import type { IdentitiesService } from '../services/identities-service.js';
import type { KeysService } from '../services/keys-service.js';
import type { MembersService } from '../services/members-service.js';
import type { OidcSignIn } from '../services/oidc.js';
import type { GovernanceService } from '../services/governance-service.js';
import type { MailService } from '../services/mail/index.js';
import type { NarrowingService } from '../services/narrowing-service.js';
import type { PolicyService } from '../services/policy-service.js';
import type { Verifier } from '../services/verifier.js';
import type { ImportService } from '../services/import-service.js';
import type { RolesService } from '../services/roles-service.js';
import type { WebhookService } from '../services/webhooks/index.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The admin permission a route needs; routes without one are public (health, metrics, docs). */
    permission?: AdminPermission;
    /** The route's team boundary (authorize.ts); absent: results are filtered to the actor's team. */
    scope?: RouteScope;
  }
  interface FastifyRequest {
    actor: Actor | null;
  }
}

export type App = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** What the routes call. Built once by the composition root. */
export interface Services {
  ctx: ServiceContext;
  keys: KeysService;
  identities: IdentitiesService;
  admin: AdminService;
  verifier: Verifier;
  policies: PolicyService;
  governance: GovernanceService;
  narrowing: NarrowingService;
  webhooks: WebhookService;
  /** Owner mail; undefined when KEYWARDEN_SMTP_URL and KEYWARDEN_MAIL_FROM are not both set. */
  mail?: MailService | undefined;
  sessions: ConsoleSessions;
  roles: RolesService;
  imports: ImportService;
  members: MembersService;
  /** OpenID Connect sign-in for the console; undefined when not configured. */
  oidc?: OidcSignIn | undefined;
  /** Whether the console accepts an admin key to sign in (KEYWARDEN_CONSOLE_KEY_SIGNIN; default true). */
  consoleKeySignIn?: boolean;
  /** True when storage answers (for /readyz). */
  ready(): Promise<boolean>;
  /** True when an error means the database is unreachable: answered as a 503, not a 500. */
  isStorageUnavailable: (err: unknown) => boolean;
  /**
   * Resolves a request without an Authorization header to an actor from another credential
   * (the web console's session cookie), or null. Must check CSRF for state-changing methods.
   */
  sessionAuth?: (req: FastifyRequest) => Promise<Actor | null>;
}

export function actorOf(req: FastifyRequest): Actor {
  if (req.actor === null) throw new KeywardenError('UNAUTHENTICATED', 'this route needs an admin key');
  return req.actor;
}
