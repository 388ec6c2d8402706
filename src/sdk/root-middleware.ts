import { keywardenExpress as forExpress } from './express.js';
import { keywardenFastify as forFastify } from './fastify.js';
import { keywardenHono as forHono } from './hono.js';
import type { GuardOptions, KeyIdentity } from './guard.js';

/*
 * The middleware as `keywarden/sdk` exported it before each framework got its own entry point
 * (0.1.0), kept so that existing imports go on working. Typed structurally, as then: this file's
 * declarations name no framework, so `keywarden/sdk` compiles without any framework's types, and
 * at run time it loads only the adapters, which import their frameworks as types alone. New code
 * imports `keywarden/sdk/express`, `…/fastify` or `…/hono`: typed with the framework's own
 * request, and `req.keywarden` declared by module augmentation.
 */

export interface ExpressLikeRequest {
  headers: Record<string, string | string[] | undefined>;
  ip?: string | undefined;
  keywarden?: KeyIdentity;
}
export interface ExpressLikeResponse {
  status(code: number): ExpressLikeResponse;
  set(headers: Record<string, string>): ExpressLikeResponse;
  send(body: string): unknown;
}
export interface FastifyLikeRequest {
  headers: Record<string, string | string[] | undefined>;
  ip: string;
  keywarden?: KeyIdentity | null;
}
export interface FastifyLikeReply {
  headers(values: Record<string, string>): FastifyLikeReply;
  code(status: number): FastifyLikeReply;
  send(payload: unknown): unknown;
}
export interface HonoLikeContext {
  req: { header(): Record<string, string>; raw: Request };
  header(name: string, value: string): void;
  set(key: 'keywarden', value: KeyIdentity): void;
  body(data: string, status: number): Response;
}

/** @deprecated Import `keywardenExpress` from `keywarden/sdk/express`: typed with Express's own request. */
export const keywardenExpress = forExpress as unknown as <Req extends ExpressLikeRequest>(
  opts: GuardOptions<Req>,
) => (req: Req, res: ExpressLikeResponse, next: (err?: unknown) => void) => void;

/** @deprecated Import `keywardenFastify` from `keywarden/sdk/fastify`: typed with Fastify's own request. */
export const keywardenFastify = forFastify as unknown as <Req extends FastifyLikeRequest>(
  opts: GuardOptions<Req>,
) => (req: Req, reply: FastifyLikeReply) => Promise<void>;

/** @deprecated Import `keywardenHono` from `keywarden/sdk/hono`: typed with Hono's own context. */
export const keywardenHono = forHono as unknown as <C extends HonoLikeContext>(
  opts: GuardOptions<C> & { clientIp?: (c: C) => string | undefined },
) => (c: C, next: () => Promise<void>) => Promise<Response | undefined>;
