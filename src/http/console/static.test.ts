import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { call, startServer } from '../../testing/harness.js';
import { consoleStatic } from './static.js';

async function appServing(dir: string): Promise<ReturnType<typeof bare>> {
  const app = bare();
  await consoleStatic(app, dir);
  await app.ready();
  return app;
}
const bare = () => Fastify().withTypeProvider<TypeBoxTypeProvider>();

describe('console static files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-console-'));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('index.html is revalidated, hashed assets are cached for good, both carry the security headers', async () => {
    mkdirSync(join(dir, 'built', 'assets'), { recursive: true });
    writeFileSync(
      join(dir, 'built', 'index.html'),
      '<!doctype html><script type="module" src="/assets/index-abc123.js"></script>',
    );
    writeFileSync(join(dir, 'built', 'assets', 'index-abc123.js'), 'console.log(1)');
    const app = await appServing(join(dir, 'built'));
    const index = await app.inject({ method: 'GET', url: '/' });
    assert.equal(index.statusCode, 200);
    assert.match(String(index.headers['content-type']), /text\/html/);
    assert.equal(index.headers['cache-control'], 'no-cache');
    const csp = String(index.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(index.headers['referrer-policy'], 'no-referrer');
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    const asset = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    assert.equal(asset.statusCode, 200);
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.match(String(asset.headers['content-security-policy']), /frame-ancestors 'none'/);
    // Paths that would leave the console's folder: never served, whatever the encoding.
    writeFileSync(join(dir, 'secret.txt'), 'outside the root');
    for (const url of [
      '/assets/..%2f..%2fsecret.txt',
      '/%2e%2e/secret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/../secret.txt',
    ]) {
      const r = await app.inject({ method: 'GET', url });
      assert.ok(r.statusCode === 404 || r.statusCode === 403, `${url}: ${r.statusCode}`);
      assert.doesNotMatch(r.body, /outside the root/, url);
    }
    await app.close();
  });

  test('a console installed under a folder named assets still revalidates index.html', async () => {
    const root = join(dir, 'assets', 'dist');
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html>');
    writeFileSync(join(root, 'assets', 'app-1.css'), 'body{}');
    const app = await appServing(root);
    assert.equal((await app.inject({ method: 'GET', url: '/' })).headers['cache-control'], 'no-cache');
    assert.equal(
      (await app.inject({ method: 'GET', url: '/assets/app-1.css' })).headers['cache-control'],
      'public, max-age=31536000, immutable',
    );
    await app.close();
  });

  test('without a build, / says how to build the console instead of failing silently', async () => {
    const app = await appServing(join(dir, 'missing'));
    const res = await app.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 503);
    assert.match(res.body, /npm run build/);
    await app.close();
  });

  test('in the real server, the console is at / and unknown paths are still problem+json 404s', async () => {
    const t = await startServer({ name: 'sqlite' });
    try {
      const index = await call(t, 'GET', '/', undefined, null);
      assert.equal(index.status, 200, 'the console is built by npm run build, which npm test runs first');
      assert.match(index.raw, /<div id="root">/);
      const script = /src="(\/assets\/[^"]+\.js)"/.exec(index.raw)?.[1];
      assert.ok(script !== undefined, 'index.html names a hashed script');
      assert.match(script, /\/assets\/index-[\w-]{8}\.js/);
      const unknown = await call(t, 'GET', '/v1/nothing-here', undefined, null);
      assert.equal(unknown.status, 404);
      assert.match(String(unknown.headers['content-type']), /application\/problem\+json/);
      assert.equal((await call(t, 'GET', '/no-such-page', undefined, null)).status, 404);
    } finally {
      await t.close();
    }
  });
});
