import type { FastifyReply } from 'fastify';

/** The headers of every console response (the API's session routes add `no-store`). */
export const CONSOLE_HEADERS: Record<string, string> = {
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; '),
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

/** Console API responses are never cached and never framed (the static pages get the same headers). */
export function consoleHeaders(reply: FastifyReply): void {
  void reply.headers({ 'cache-control': 'no-store', ...CONSOLE_HEADERS });
}
