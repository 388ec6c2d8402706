import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyRequest,
  type onRequestHookHandler,
  type onResponseHookHandler,
} from 'fastify';
import type { Logger } from 'pino';
import type { EdgeConfig, TrustProxy } from '../config.js';
import { KeywardenError } from '../core/errors.js';
import { adminAllows, type Actor, type AdminPermission } from '../core/model.js';
import { consoleRoutes } from './console/routes.js';
import { oidcRoutes } from './console/oidc-routes.js';
import { consoleStatic } from './console/static.js';
import { checkScope } from './authorize.js';
import { parseJsonBody } from './body.js';
import { fastVerify, trustHops } from './fast-verify.js';
import { AuthThrottle } from './auth-throttle.js';
import { registerOpenApi } from './openapi.js';
import { narrowingRoutes } from './routes/narrowing.js';
import { notificationRoutes } from './routes/notifications.js';
import { errorHandler, pathOf, rawProblem, sendProblem } from './problem.js';
import { lazyChildLoggers } from './request-logger.js';
import { LogThrottle } from '../runtime/log-throttle.js';
import { adminKeyRoutes } from './routes/admin-keys.js';
import { auditRoutes } from './routes/audit.js';
import { identityRoutes } from './routes/identities.js';
import { memberRoutes } from './routes/members.js';
import { keyRoutes } from './routes/keys.js';
import { importRoutes, roleRoutes } from './routes/roles.js';
import { governanceRoutes } from './routes/governance.js';
import { policyRoutes } from './routes/policy.js';
import { serviceRoutes } from './routes/service.js';
import { usageRoutes } from './routes/usage.js';
import { handedOver, verifyRoute } from './routes/verify.js';
import { webhookRoutes } from './routes/webhooks.js';
import type { App, Services } from './types.js';
import { formatValidationErrors, validatorCompiler } from './validation.js';

export interface AppOptions {
  logger: Logger;
  bodyLimitBytes: number;
  trustProxy: TrustProxy;
  sessionMaxHours: number;
  /** Timeouts, connection cap, failed-auth throttling, metrics token (docs/security.md). */
  edge: EdgeConfig;
  /** The built console (default: `console/dist` of this package). */
  consoleDir?: string;
  /** "request failed" lines: at most one per route and status per this interval (default 10 s). */
  logRepeatIntervalMs?: number;
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
function authenticateFor(s: Services, needed: AdminPermission, throttle: AuthThrottle): onRequestHookHandler {
  return (req, reply, done) => {
    // Every /v1 answer, success or problem: never cached, never sniffed (it may carry a key).
    void reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff');
    const authorization = req.headers.authorization;
    const wait = throttle.blocked(req.ip, authorization);
    if (wait > 0) {
      void reply.header('retry-after', String(wait));
      done(throttled(wait));
      return;
    }
    const failed = (err: unknown): void => {
      if (err instanceof KeywardenError && err.code === 'UNAUTHENTICATED')
        onAuthFailure(s, throttle, req, authorization);
      done(err as Error);
    };
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
      failed(err);
      return;
    }
    // Outside the try: whatever runs after done() must never make this hook answer twice.
    if (cached !== undefined) {
      done();
      return;
    }
    void authenticate(s, req, viaSession)
      .then(authorize)
      .then(() => {
        done();
      }, failed);
  };
}

/** The 429 of a throttled client, with Retry-After in seconds (RFC 9110 §10.2.3). */
function throttled(seconds: number): KeywardenError {
  return new KeywardenError(
    'RATE_LIMITED',
    `too many failed authentications from this address or for this key; retry in ${seconds} s`,
  );
}

/** Counts a failed authentication; the one that crosses the threshold is logged and counted once. */
function onAuthFailure(
  s: Services,
  throttle: AuthThrottle,
  req: FastifyRequest,
  token: string | undefined,
): void {
  if (throttle.fail(req.ip, token)) {
    s.ctx.metrics.authThrottled.inc();
    req.log.warn({ ip: req.ip, route: pathOf(req.url) }, 'failed authentications over the limit: throttling');
  }
}

/**
 * Counts a route's answers by status (every one), and logs server errors: one line per route and
 * status per interval, with how many were left out (an outage fails thousands a second).
 */
function countResponse(s: Services, url: string, throttle: LogThrottle): onResponseHookHandler {
  return (req, reply, done) => {
    s.ctx.metrics.httpRequests.inc(url, reply.statusCode);
    if (reply.statusCode >= 500) {
      const repeated = throttle.admit(`${reply.statusCode} ${url}`);
      if (repeated !== undefined)
        req.log.warn({ url: pathOf(req.url), status: reply.statusCode, repeated }, 'request failed');
    }
    done();
  };
}

/** Request ids: a boot prefix and a counter, no clock read or random draw per request (docs/hot-path.md). */
function requestIds(): () => string {
  const boot = randomBytes(4).toString('hex');
  let n = 0;
  return () => `req_${boot}${(++n).toString(36)}`;
}

/** The admin key of a sign-in body, if it has one (for throttling by prefix). */
function adminKeyOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const k = (body as { adminKey?: unknown }).adminKey;
  return typeof k === 'string' ? k : undefined;
}

/**
 * The HTTP server, with the edge's timeouts (Fastify's defaults wait forever for a slow client)
 * and a cap on open connections per client address. Node checks the request and header timeouts
 * every `connectionsCheckingInterval`, so that runs often enough for the configured values.
 */
function edgeServer(handler: Parameters<typeof createServer>[1], edge: EdgeConfig): Server {
  const server = createServer(
    {
      requestTimeout: edge.requestTimeoutMs,
      headersTimeout: edge.headersTimeoutMs,
      keepAliveTimeout: edge.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(edge.headersTimeoutMs / 4))),
    },
    handler,
  );
  if (edge.maxConnectionsPerIp > 0) {
    const open = new Map<string, number>();
    server.on('connection', (socket) => {
      const addr = socket.remoteAddress ?? '';
      const n = (open.get(addr) ?? 0) + 1;
      if (n > edge.maxConnectionsPerIp) {
        socket.end(
          rawProblem(
            'RATE_LIMITED',
            `too many open connections from this address (at most ${edge.maxConnectionsPerIp})`,
            'Retry-After: 1\r\n',
          ),
        );
        socket.destroySoon();
        return;
      }
      open.set(addr, n);
      socket.once('close', () => {
        const left = (open.get(addr) ?? 1) - 1;
        if (left <= 0) open.delete(addr);
        else open.set(addr, left);
      });
    });
  }
  return server;
}

/** Node's client errors (a timeout, a malformed request line, oversized headers) as problem+json. */
function clientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const answer =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? rawProblem('REQUEST_TIMEOUT', 'the request did not arrive in time; the connection is closed')
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? rawProblem('HEADERS_TOO_LARGE', 'the request headers exceed the size limit')
          : rawProblem('VALIDATION_FAILED', 'the request is not valid HTTP/1.1');
    socket.end(answer);
  }
  socket.destroySoon();
}

/** Builds the HTTP app: parsing, validation, auth, errors, docs, and every route, registered here and only here. */
export async function buildApp(s: Services, opts: AppOptions): Promise<App> {
  // Typed as Fastify's logger, so that routes and hooks see Fastify's logger type.
  const loggerInstance: FastifyBaseLogger = opts.logger;
  const edge = opts.edge;
  const throttle = new AuthThrottle({ limit: edge.authFailuresPerMinute });
  const onError = errorHandler(s.isStorageUnavailable);
  // Set once the server closes (preClose below): requests then get a 503.
  let draining = false;
  // POST /v1/verify on the raw request when it can (fast-verify.ts); everything else, and every
  // request it hands back, goes through Fastify.
  const fast = fastVerify(s, {
    bodyLimitBytes: opts.bodyLimitBytes,
    trustProxy: opts.trustProxy,
    throttle,
    draining: () => draining,
  });
  const app: App = Fastify({
    loggerInstance,
    bodyLimit: opts.bodyLimitBytes,
    // The same trust function as the fast path's client address (fast-verify.ts).
    trustProxy: typeof opts.trustProxy === 'number' ? trustHops(opts.trustProxy) : opts.trustProxy,
    serverFactory: (handler) =>
      edgeServer((req, res) => {
        if (!fast(req, res, handler)) handler(req, res);
      }, edge),
    // Errors Fastify raises before routing (bad percent-encoding, over-long parameters): ours too.
    frameworkErrors: (err, req, reply) => {
      void onError(err, req, reply);
    },
    // What fails before a request exists (timeouts, oversized headers) is problem+json as well.
    clientErrorHandler: clientError,
    // Per-request access logs would cost the verify hot path; metrics count requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    schemaErrorFormatter: formatValidationErrors,
    // Ids in problem responses let an operator find the log line of a failed request.
    genReqId: requestIds(),
    childLoggerFactory: lazyChildLoggers(opts.logger),
    // Requests arriving while the server closes get our problem+json 503 (hook below), not Fastify's.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(onError);
  // Shutdown: idle keep-alive connections are closed and in-flight requests answered; a request
  // that still arrives (on a busy keep-alive connection) gets a 503 problem and `Connection: close`.
  app.addHook('preClose', (done) => {
    draining = true;
    done();
  });
  app.addHook('onRequest', (req, reply, done) => {
    // A request the fast path took before the server began closing is answered as it would have
    // been then (its error problem), not with this 503.
    if (draining && !handedOver.has(req.raw)) {
      void sendProblem(
        reply.header('connection', 'close'),
        'SERVICE_UNAVAILABLE',
        'this node is shutting down; send the request again (another node will answer it)',
      );
    }
    done();
  });
  const logThrottle = new LogThrottle(opts.logRepeatIntervalMs ?? 10_000);
  app.setNotFoundHandler((req, reply) => {
    s.ctx.metrics.httpRequests.inc('unmatched', 404);
    return sendProblem(reply, 'NOT_FOUND', `no route ${req.method} ${pathOf(req.url)}`);
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
    route.onResponse = [...hooksOf(route.onResponse), countResponse(s, url, logThrottle)];
    const needed = route.config?.permission;
    if (needed === undefined) return;
    // The OpenAPI side of an admin route (bearer scheme, permission in words, 401/403 problems)
    // comes from adminRoute(); a route that set a permission without it would be documented as public.
    if ((route.schema as { security?: unknown } | undefined)?.security === undefined)
      throw new Error(`${route.method.toString()} ${url} needs a permission: declare it with adminRoute()`);
    const scope = route.config?.scope ?? {};
    // Authentication runs first (onRequest), before any body is read or validated, so an
    // anonymous caller learns nothing about the API's shape; then the team boundary.
    // (A route with no declared boundary skips the hook: its service filters by the actor's team.)
    const scoped = scope.global === true || scope.teamParam !== undefined ? [checkScope(scope)] : [];
    route.onRequest = [authenticateFor(s, needed, throttle), ...scoped, ...hooksOf(route.onRequest)];
  });
  // Console sign-in is throttled like bearer authentication: by address and by the key's prefix.
  app.addHook('onRoute', (route) => {
    if (route.url !== '/console/api/session' || route.method !== 'POST') return;
    route.preHandler = [
      (req, reply, done) => {
        const wait = throttle.blocked(req.ip, adminKeyOf(req.body));
        if (wait > 0) void reply.header('retry-after', String(wait));
        done(wait > 0 ? throttled(wait) : undefined);
      },
      ...hooksOf(route.preHandler),
    ];
    route.onResponse = [
      (req, reply, done) => {
        if (reply.statusCode === 401) onAuthFailure(s, throttle, req, adminKeyOf(req.body));
        done();
      },
      ...hooksOf(route.onResponse),
    ];
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

  serviceRoutes(app, s, edge.metricsToken);
  verifyRoute(app, s);
  importRoutes(app, s);
  keyRoutes(app, s);
  identityRoutes(app, s);
  narrowingRoutes(app, s);
  notificationRoutes(app, s);
  roleRoutes(app, s);
  adminKeyRoutes(app, s);
  memberRoutes(app, s);
  auditRoutes(app, s);
  usageRoutes(app, s);
  policyRoutes(app, s);
  governanceRoutes(app, s);
  webhookRoutes(app, s);
  consoleRoutes(app, s, opts.sessionMaxHours);
  oidcRoutes(app, s, opts.sessionMaxHours);
  await consoleStatic(app, opts.consoleDir);
  await app.ready();
  return app;
}
