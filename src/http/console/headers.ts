import type { FastifyReply } from 'fastify';

/** The headers of every console response (the API's session routes add `no-store`). */
export const CONSOLE_HEADERS: Record<string, string> = {
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; '),
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // No other origin may open the console in a window it can script, or embed its files.
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Console API responses are never cached and never framed (the static pages get the same headers). */
export function consoleHeaders(reply: FastifyReply): void {
  void reply.headers({ 'cache-control': 'no-store', ...CONSOLE_HEADERS });
}
