import { existsSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { App } from '../types.js';
import { CONSOLE_HEADERS, consoleHeaders } from './headers.js';

/** Where `npm run build` (vite) puts the console: `console/dist` at the repository's root. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../../console/dist/', import.meta.url));

/** Hashed file names never change content, so browsers may keep them for a year. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * Serves the built web console at `/`: `index.html` is never cached (it names the current
 * hashed assets), `/assets/*` are cached for good. Every file gets the console's security
 * headers (CSP without inline scripts, no framing, no referrer, nosniff). One route per built
 * file (no wildcard), so unknown paths still get the API's problem+json 404.
 */
export async function consoleStatic(app: App, dir: string = DEFAULT_CONSOLE_DIR): Promise<void> {
  if (!existsSync(`${dir}/index.html`)) {
    app.get('/', { schema: { hide: true } }, async (_req, reply) => {
      consoleHeaders(reply);
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The Keywarden console is not built. Run `npm run build` (npm install does it), then restart.');
    });
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    // Set below, per file, with the security headers.
    cacheControl: false,
    etag: true,
    lastModified: false,
    setHeaders: (reply, path) => {
      // `path` is absolute: only what lies under <dir>/assets is hashed and immutable.
      const hashed = relative(dir, path).startsWith(`assets${sep}`);
      void reply.header('cache-control', hashed ? IMMUTABLE : 'no-cache');
      void reply.headers(CONSOLE_HEADERS);
    },
  });
}
