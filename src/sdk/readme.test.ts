import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { call, createKey, startServer, type TestServer } from '../testing/harness.js';

/*
 * The README's TypeScript blocks are what a new user copies first. Each one is compiled with
 * `tsc --strict` (NodeNext) in a temporary app against the package as `npm pack` builds it (so a
 * missing file, a wrong `exports` entry or a type that needs a cast fails here), then the
 * middleware blocks are run against a live Keywarden. The app gets the tarball's contents as
 * node_modules/keywarden and the repository's own dependencies by symlink: offline and fast.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Block {
  index: number;
  source: string;
}

function readmeBlocks(): Block[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m, index) => ({
    index,
    source: m[1] ?? '',
  }));
}

/** Builds the temporary app: the packed package plus symlinks to every other dependency. */
function makeApp(dir: string): string {
  const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop();
  assert.ok(packed !== undefined && packed.endsWith('.tgz'), `npm pack printed ${String(packed)}`);
  const app = join(dir, 'app');
  const installed = join(app, 'node_modules', 'keywarden');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', join(dir, packed), '-C', installed, '--strip-components=1']);
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name === 'keywarden' || name.startsWith('.')) continue;
    symlinkSync(join(ROOT, 'node_modules', name), join(app, 'node_modules', name));
  }
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'readme-app', type: 'module', private: true }),
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2023'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noUncheckedIndexedAccess: true,
        types: ['node'],
        skipLibCheck: true,
        rootDir: 'src',
        outDir: 'out',
      },
      include: ['src/*.ts'],
    }),
  );
  return app;
}

interface Runnable {
  app: unknown;
  keywarden?: { close(): Promise<void> };
}

describe('the README TypeScript blocks', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-readme-'));
  const blocks = readmeBlocks();
  let app: string;
  let t: TestServer;
  let good: string;
  before(async () => {
    app = makeApp(dir);
    mkdirSync(join(app, 'src'));
    for (const b of blocks) {
      // Exported so the test can run it; compiled strictly together with the block.
      const exports = /\bconst keywarden\b/.test(b.source) ? 'export { app, keywarden };' : 'export { app };';
      writeFileSync(join(app, 'src', `block${b.index}.ts`), `${b.source}\n${exports}\n`);
    }
    t = await startServer({ name: 'sqlite' });
    await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
    const verifyKey = await call(t, 'POST', '/v1/admin-keys', {
      name: 'readme-verifier',
      permissions: ['keys:verify'],
    });
    process.env.KEYWARDEN_URL = `http://127.0.0.1:${(t.kw.app.server.address() as AddressInfo).port}`;
    process.env.KEYWARDEN_VERIFY_KEY = String(verifyKey.body.key);
    process.env.KEYWARDEN_DATA_DIR = join(dir, 'embedded-data');
    good = (
      await createKey(t, {
        name: 'crm-prod-readme',
        permissions: ['agents:invoke:agt_42'],
        customerId: 'cus_readme',
      })
    ).key;
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('there are blocks for Express, Fastify, Hono and the in-process verifier', () => {
    const all = blocks.map((b) => b.source).join('\n');
    for (const entry of ['keywarden/sdk/express', 'keywarden/sdk/fastify', 'keywarden/sdk/hono']) {
      assert.ok(all.includes(`from '${entry}'`), entry);
    }
    assert.match(all, /import \{ createKeywarden, inProcessVerifier, loadConfig \} from 'keywarden';/);
    // The middleware's prerequisite and its failure behaviour are in the README's words.
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.match(readme, /`keywarden admin-keys create [^`]*--permission keys:verify`/);
    assert.match(readme, /onUnavailable: 'allow'/);
    assert.match(readme, /`503` problem\+json/);
  });

  test('every block compiles with tsc --strict against the packed package', () => {
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app], {
      encoding: 'utf8',
    });
    assert.equal(tsc.status, 0, `tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  });

  test('every middleware block verifies: 200 with the identity, 401 problem without a key', async () => {
    for (const b of blocks) {
      const mod = (await import(pathToFileURL(join(app, 'out', `block${b.index}.js`)).href)) as Runnable;
      const embedded = mod.keywarden !== undefined;
      const path = embedded ? '/reports' : '/agents/agt_42/invoke';
      const method = embedded ? 'GET' : 'POST';
      const run = async (headers: Record<string, string>): Promise<{ status: number; body: string }> => {
        if (b.source.includes("from 'keywarden/sdk/fastify'")) {
          const f = mod.app as { inject(o: object): Promise<{ statusCode: number; body: string }> };
          const r = await f.inject({ method, url: path, headers });
          return { status: r.statusCode, body: r.body };
        }
        if (b.source.includes("from 'keywarden/sdk/hono'")) {
          const h = mod.app as { request(p: string, o: object): Promise<Response> };
          const r = await h.request(path, { method, headers });
          return { status: r.status, body: await r.text() };
        }
        const e = mod.app as { listen(port: number): Server };
        const server = e.listen(0);
        await new Promise((r) => server.once('listening', r));
        try {
          const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`, {
            method,
            headers,
          });
          return { status: r.status, body: await r.text() };
        } finally {
          server.close();
        }
      };
      try {
        const none = await run({});
        assert.equal(none.status, 401, `block ${b.index}: ${none.body}`);
        assert.equal((JSON.parse(none.body) as { code: string }).code, 'UNAUTHENTICATED');
        if (!embedded) {
          const ok = await run({ authorization: `Bearer ${good}` });
          assert.equal(ok.status, 200, `block ${b.index}: ${ok.body}`);
          assert.deepEqual(JSON.parse(ok.body), { customer: 'cus_readme' });
        }
      } finally {
        await mod.keywarden?.close();
      }
    }
  });
});
