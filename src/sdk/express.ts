import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { checkGuardOptions, guard, type GuardOptions, type KeyIdentity } from './guard.js';

declare global {
  // Express declares its request type in this global namespace for augmentation.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified key's identity, set by `keywardenExpress` (unset when it let a request through with `onUnavailable: 'allow'`). */
      keywarden?: KeyIdentity;
    }
  }
}

/**
 * Express middleware: verifies the request's key for the route's permission, answers 401/403/429
 * (or 503 when Keywarden is unavailable) with problem+json, or sets `req.keywarden` and continues.
 * @example app.post('/agents/:id/invoke', keywardenExpress({ verifier, environment: 'production', permission: 'agents:invoke', resource: (req) => req.params.id }), handler)
 */
export function keywardenExpress(opts: GuardOptions<Request>): RequestHandler {
  checkGuardOptions(opts);
  return function keywardenMiddleware(req: Request, res: Response, next: NextFunction): void {
    const ua = req.headers['user-agent'];
    guard(opts, req, {
      headers: req.headers,
      ip: req.ip,
      userAgent: typeof ua === 'string' ? ua : undefined,
    }).then(
      (out) => {
        res.set(out.headers);
        if (out.ok) {
          if (out.identity !== null) req.keywarden = out.identity;
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
