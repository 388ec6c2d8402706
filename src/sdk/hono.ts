import type { Context, MiddlewareHandler } from 'hono';
import { checkGuardOptions, guard, type GuardOptions, type KeyIdentity } from './guard.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** The verified key's identity, set by `keywardenHono` (undefined when it let a request through with `onUnavailable: 'allow'`). */
    keywarden: KeyIdentity | undefined;
  }
}

/**
 * Hono middleware: verifies the request's key for the route's permission, answers 401/403/429
 * (or 503 when Keywarden is unavailable) with problem+json, or sets `c.get('keywarden')`.
 * Hono has no portable client address: pass `clientIp` to check keys' IP allowlists.
 * @example app.use('/agents/:id', keywardenHono({ verifier, environment: 'production', permission: 'agents:invoke', resource: (c) => c.req.param('id') }))
 */
export function keywardenHono(
  opts: GuardOptions<Context> & { clientIp?: (c: Context) => string | undefined },
): MiddlewareHandler {
  checkGuardOptions(opts);
  return async function keywardenHonoMiddleware(c, next) {
    const headers = c.req.header();
    const out = await guard(opts, c, { headers, ip: opts.clientIp?.(c), userAgent: headers['user-agent'] });
    for (const [k, v] of Object.entries(out.headers)) c.header(k, v);
    if (!out.ok) return c.body(JSON.stringify(out.body), out.status as 401);
    if (out.identity !== null) c.set('keywarden', out.identity);
    await next();
    return undefined;
  };
}
