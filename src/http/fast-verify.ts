import type { IncomingMessage, ServerResponse } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import type { Static } from '@sinclair/typebox';
import fastJsonStringify from 'fast-json-stringify';
import type { TrustProxy } from '../config.js';
import { adminAllows, type Actor } from '../core/model.js';
import type { VerifyResult } from '../core/verify.js';
import type { AuthThrottle } from './auth-throttle.js';
import { parseJsonBody } from './body.js';
import { handedOver, verifyCall } from './routes/verify.js';
import { VerifyRequest, VerifyResponse } from './schemas.js';
import type { Services } from './types.js';
import { compileBodyValidator } from './validation.js';

/** The route the fast path answers, exactly (no query string: anything else goes to Fastify). */
export const VERIFY_PATH = '/v1/verify';

export interface FastVerifyOptions {
  bodyLimitBytes: number;
  trustProxy: TrustProxy;
  throttle: AuthThrottle;
  /** True once the server is closing: requests then get the route's 503 (through Fastify). */
  draining: () => boolean;
}

/** A hop count as proxy-addr's trust function: the `hops` nearest hops are proxies (Fastify's too). */
export const trustHops =
  (hops: number) =>
  (_addr: string, i: number): boolean =>
    i < hops;

/**
 * The client address as Fastify's `request.ip` computes it: the socket's peer, or with trusted
 * proxies the nearest untrusted address of X-Forwarded-For (same library, same trust function).
 */
function clientIp(trust: TrustProxy): (req: IncomingMessage) => string {
  if (trust === false) return (req) => req.socket.remoteAddress ?? '';
  const fn = typeof trust === 'number' ? trustHops(trust) : proxyAddr.compile(trust);
  return (req) => {
    const all = proxyAddr.all(req, fn);
    return all[all.length - 1] ?? '';
  };
}

const isThenable = (v: VerifyResult | PromiseLike<VerifyResult>): v is PromiseLike<VerifyResult> =>
  typeof (v as Partial<PromiseLike<VerifyResult>>).then === 'function';

/**
 * `POST /v1/verify` answered on the raw request, before Fastify: the hot path's HTTP share, without
 * Fastify's request and reply objects, hook chains, content-type dispatch and send pipeline (half
 * of a cached verification's CPU over HTTP; docs/hot-path.md#the-verify-fast-path).
 *
 * It takes only a request whose every check before the body passes the way the route's would: the
 * exact path, `application/json` with a Content-Length within the body limit, a cached admin key
 * allowed `keys:verify` from an address not throttled, a server not closing. Anything else goes
 * to Fastify untouched. A request it took whose body fails to parse or validate, or whose
 * verification throws or rejects, is handed to the route with its body (`handedOver`), so every
 * error answer is the route's own; only the 200 is written here, with the route's headers, the
 * route's serializer schema and the same request counter.
 */
export function fastVerify(
  s: Services,
  opts: FastVerifyOptions,
): (
  req: IncomingMessage,
  res: ServerResponse,
  fastify: (req: IncomingMessage, res: ServerResponse) => void,
) => boolean {
  const validate = compileBodyValidator(VerifyRequest);
  // The schema is an object schema: the serializer returns text (its typings fall back to `any`).
  const serialize = fastJsonStringify(VerifyResponse) as (doc: VerifyResult) => string;
  const ipOf = clientIp(opts.trustProxy);
  const { throttle, bodyLimitBytes } = opts;

  /** The 200, with the route's headers; or the serializer's error (the result does not fit the schema). */
  const answer = (req: IncomingMessage, res: ServerResponse, result: VerifyResult): unknown => {
    let json: string;
    try {
      json = serialize(result);
    } catch (err) {
      return err ?? new Error('the verification result could not be serialized');
    }
    // The client left while its verification ran: nothing to write, nothing counted (as the route).
    if (req.socket.destroyed) return undefined;
    res.writeHead(200, {
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(json),
    });
    res.end(json);
    s.ctx.metrics.httpRequests.inc(VERIFY_PATH, 200);
    return undefined;
  };

  return (req, res, fastify) => {
    if (req.method !== 'POST' || req.url !== VERIFY_PATH || opts.draining()) return false;
    const h = req.headers;
    const type = h['content-type'];
    if (type !== 'application/json' && type !== 'application/json; charset=utf-8') return false;
    const length = Number(h['content-length']);
    if (!(length > 0 && length <= bodyLimitBytes) || h['transfer-encoding'] !== undefined) return false;
    const authorization = h.authorization;
    if (authorization === undefined) return false;
    const ip = ipOf(req);
    if (throttle.blocked(ip, authorization) > 0) return false;
    let actor: Actor | undefined;
    try {
      actor = s.admin.authenticateSync(authorization, ip);
    } catch {
      return false; // refused: the route's hook answers it (and counts the failure once)
    }
    if (actor === undefined || !adminAllows(actor, 'keys:verify')) return false;
    const who = actor;

    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      received += chunk.length;
    };
    const onEnd = (): void => {
      req.removeListener('data', onData);
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received);
      // `failed`: the verification's error, which the route throws (it does not verify again).
      const handOver = (failed?: { error: unknown }): void => {
        handedOver.set(req, failed === undefined ? { body } : { body, error: failed.error });
        fastify(req, res);
      };
      const fail = (error: unknown): void => {
        handOver({ error });
      };
      let parsed: unknown;
      try {
        parsed = parseJsonBody(body);
      } catch {
        handOver();
        return;
      }
      if (!validate(parsed)) {
        handOver();
        return;
      }
      let out: VerifyResult | PromiseLike<VerifyResult>;
      try {
        out = verifyCall(s, parsed as Static<typeof VerifyRequest>, who, h['user-agent']);
      } catch (err) {
        fail(err);
        return;
      }
      // A result the serializer refuses is the route's to answer (a 500 problem), never a throw here:
      // this runs in a stream event or a promise callback, where a throw would end the process.
      const finish = (result: VerifyResult): void => {
        const failed = answer(req, res, result);
        if (failed !== undefined) fail(failed);
      };
      if (isThenable(out)) out.then(finish, fail);
      else finish(out);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    return true;
  };
}
