import { guard, type GuardOptions, type KeyIdentity } from './guard.js';

/*
 * Adapters of `guard` for Express, Fastify and Hono. Each is a small factory returning a named
 * function, typed structurally so that none of the frameworks is a runtime dependency.
 */

interface ExpressReq {
  headers: Record<string, string | string[] | undefined>;
  ip?: string | undefined;
  keywarden?: KeyIdentity;
}
interface ExpressRes {
  status(code: number): ExpressRes;
  set(headers: Record<string, string>): ExpressRes;
  send(body: string): unknown;
}

/** Express: `app.get('/agents/:id', keywardenExpress({ verifier, environment: 'production', permission: 'agents:invoke', resource: (r) => r.params.id }), handler)`; the key's identity is `req.keywarden`. */
export function keywardenExpress<Req extends ExpressReq>(opts: GuardOptions<Req>) {
  return function keywardenMiddleware(req: Req, res: ExpressRes, next: (err?: unknown) => void): void {
    const ua = req.headers['user-agent'];
    guard(opts, req, { headers: req.headers, ip: req.ip, userAgent: Array.isArray(ua) ? ua[0] : ua }).then(
      (out) => {
        res.set(out.headers);
        if (out.ok) {
          req.keywarden = out.identity;
          next();
        } else {
          res.status(out.status).send(JSON.stringify(out.body));
        }
      },
      (err: unknown) => {
        next(err);
      },
    );
  };
}

interface FastifyReq {
  headers: Record<string, string | string[] | undefined>;
  ip: string;
  keywarden?: KeyIdentity;
}
interface FastifyReply {
  headers(values: Record<string, string>): FastifyReply;
  code(status: number): FastifyReply;
  send(payload: unknown): FastifyReply;
}

/** Fastify: `{ preHandler: keywardenFastify({ … }) }`; the identity is `request.keywarden` (decorate it first: `app.decorateRequest('keywarden', null)`). */
export function keywardenFastify<Req extends FastifyReq>(opts: GuardOptions<Req>) {
  return async function keywardenPreHandler(req: Req, reply: FastifyReply): Promise<void> {
    const ua = req.headers['user-agent'];
    const out = await guard(opts, req, {
      headers: req.headers,
      ip: req.ip,
      userAgent: Array.isArray(ua) ? ua[0] : ua,
    });
    reply.headers(out.headers);
    if (out.ok) {
      req.keywarden = out.identity;
      return;
    }
    // Sending from a preHandler ends the request; Fastify skips the route handler.
    reply.code(out.status).send(JSON.stringify(out.body));
  };
}

interface HonoContext {
  req: { header(): Record<string, string>; raw: Request };
  header(name: string, value: string): void;
  set(key: 'keywarden', value: KeyIdentity): void;
  body(data: string, status: number): Response;
}

/** Hono: `app.use('/agents/*', keywardenHono({ … }))`; the identity is `c.get('keywarden')`. */
export function keywardenHono<C extends HonoContext>(
  opts: GuardOptions<C> & { clientIp?: (c: C) => string | undefined },
) {
  return async function keywardenHonoMiddleware(
    c: C,
    next: () => Promise<void>,
  ): Promise<Response | undefined> {
    const headers = c.req.header();
    const out = await guard(opts, c, { headers, ip: opts.clientIp?.(c), userAgent: headers['user-agent'] });
    for (const [k, v] of Object.entries(out.headers)) c.header(k, v);
    if (!out.ok) return c.body(JSON.stringify(out.body), out.status);
    c.set('keywarden', out.identity);
    await next();
    return undefined;
  };
}
