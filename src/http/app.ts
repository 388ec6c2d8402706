import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { randomBytes } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyRequest,
  type onRequestHookHandler,
  type onResponseHookHandler,
} from 'fastify';
import type { Logger } from 'pino';
import { KeywardenError } from '../core/errors.js';
import { adminAllows, type Actor, type AdminPermission } from '../core/model.js';
import { consoleRoutes } from '../console/routes.js';
import { consoleStatic } from '../console/static.js';
import { parseJsonBody } from './body.js';
import { registerOpenApi } from './openapi.js';
import { errorHandler, sendProblem } from './problem.js';
import { lazyChildLoggers } from './request-logger.js';
import { adminKeyRoutes } from './routes/admin-keys.js';
import { auditRoutes } from './routes/audit.js';
import { keyRoutes } from './routes/keys.js';
import { governanceRoutes } from './routes/governance.js';
import { policyRoutes } from './routes/policy.js';
import { serviceRoutes } from './routes/service.js';
import { usageRoutes } from './routes/usage.js';
import { verifyRoute } from './routes/verify.js';
import { webhookRoutes } from './routes/webhooks.js';
import type { App, Services } from './types.js';
import { formatValidationErrors, validatorCompiler } from './validation.js';

export interface AppOptions {
  logger: Logger;
  bodyLimitBytes: number;
  trustProxy: boolean;
  sessionMaxHours: number;
  /** The built console (default: `console/dist` of this package). */
  consoleDir?: string;
}

/** The actor of a request whose admin key is not cached, or of a console session. */
async function authenticate(s: Services, req: FastifyRequest, viaSession: boolean): Promise<Actor> {
  const session = viaSession && s.sessionAuth !== undefined ? await s.sessionAuth(req) : null;
  return session ?? s.admin.authenticate(req.headers.authorization, req.ip);
}

/** A route's hooks of one kind as a list (Fastify accepts one function or an array). */
function hooksOf<T>(h: T | T[] | undefined): T[] {
  return h === undefined ? [] : Array.isArray(h) ? h : [h];
}

/**
 * The admin-key check of a route that needs `needed`. Callback-style: a cached admin key (every
 * verify call) is answered without a promise; only a cache miss or a console session awaits.
 */
function authenticateFor(s: Services, needed: AdminPermission): onRequestHookHandler {
  return (req, _reply, done) => {
    const authorize = (actor: Actor): void => {
      if (!adminAllows(actor, needed)) {
        throw new KeywardenError('FORBIDDEN', `this admin key lacks the "${needed}" permission`);
      }
      req.actor = actor;
    };
    const viaSession = req.headers.authorization === undefined && s.sessionAuth !== undefined;
    let cached;
    try {
      cached = viaSession ? undefined : s.admin.authenticateSync(req.headers.authorization, req.ip);
      if (cached !== undefined) authorize(cached);
    } catch (err) {
      done(err as Error);
      return;
    }
    // Outside the try: whatever runs after done() must never make this hook answer twice.
    if (cached !== undefined) {
      done();
      return;
    }
    void authenticate(s, req, viaSession)
      .then(authorize)
      .then(
        () => {
          done();
        },
        (err: unknown) => {
          done(err as Error);
        },
      );
  };
}

/** Counts a route's answers by status (and logs server errors). */
function countResponse(s: Services, url: string): onResponseHookHandler {
  return (req, reply, done) => {
    s.ctx.metrics.httpRequests.inc(url, reply.statusCode);
    if (reply.statusCode >= 500) req.log.warn({ url: req.url, status: reply.statusCode }, 'request failed');
    done();
  };
}

/** Request ids: a random boot prefix and a counter (no clock read, no random draw per request). */
function requestIds(): () => string {
  const boot = randomBytes(4).toString('hex');
  let n = 0;
  return () => `req_${boot}${(++n).toString(36)}`;
}

/** Builds the HTTP app: parsing, validation, auth, errors, docs, and every route, registered here and only here. */
export async function buildApp(s: Services, opts: AppOptions): Promise<App> {
  // Typed as Fastify's logger, so that routes and hooks see Fastify's logger type.
  const loggerInstance: FastifyBaseLogger = opts.logger;
  const app: App = Fastify({
    loggerInstance,
    bodyLimit: opts.bodyLimitBytes,
    trustProxy: opts.trustProxy,
    // Per-request access logs would cost the verify hot path; metrics count requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    schemaErrorFormatter: formatValidationErrors,
    // Ids in problem responses let an operator find the log line of a failed request.
    genReqId: requestIds(),
    childLoggerFactory: lazyChildLoggers(opts.logger),
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    s.ctx.metrics.httpRequests.inc('unmatched', 404);
    return sendProblem(reply, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`);
  });
  // JSON only: any other media type is a 415, not a string body that fails validation later.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.decorateRequest('actor', null);
  // Per route, not global: a global hook would read `req.routeOptions`, which Fastify builds
  // afresh (a 13-field object) on every read, twice per verification.
  app.addHook('onRoute', (route) => {
    const url = route.url;
    route.onResponse = [...hooksOf(route.onResponse), countResponse(s, url)];
    const needed = route.config?.permission;
    if (needed === undefined) return;
    // Each admin route documents, in OpenAPI, the permission it needs (the security suite reads it).
    const schema = (route.schema ??= {}) as { description?: string; security?: unknown };
    schema.security = [{ bearerAuth: [] }];
    schema.description = `Requires the admin permission \`${needed}\`.${schema.description ? ` ${schema.description}` : ''}`;
    // Authentication runs first (onRequest), before any body is read or validated, so an
    // anonymous caller learns nothing about the API's shape.
    route.onRequest = [authenticateFor(s, needed), ...hooksOf(route.onRequest)];
  });

  // Action routes (disable, enable, regenerate) take an optional body: absent means {}.
  // Also: no NUL in the URL's parameters (the body parser refuses it in JSON), so PostgreSQL,
  // which stores no NUL in text, never sees one and answers a 500.
  app.addHook('preValidation', (req, _reply, done) => {
    if (req.body === undefined && req.method === 'POST') req.body = {};
    if (req.url.includes('%00')) {
      done(new KeywardenError('VALIDATION_FAILED', 'the URL contains a NUL character (%00)'));
      return;
    }
    done();
  });
  // The OpenAPI document (operationIds, named schemas) and the /docs reference: see openapi.ts.
  await registerOpenApi(app);

  serviceRoutes(app, s);
  verifyRoute(app, s);
  keyRoutes(app, s);
  adminKeyRoutes(app, s);
  auditRoutes(app, s);
  usageRoutes(app, s);
  policyRoutes(app, s);
  governanceRoutes(app, s);
  webhookRoutes(app, s);
  consoleRoutes(app, s, opts.sessionMaxHours);
  await consoleStatic(app, opts.consoleDir);
  await app.ready();
  return app;
}
