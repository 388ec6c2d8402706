import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { consoleStatic } from '../http/console/static.js';

/*
 * Issue 20, item 4: `npm install` and the first `npx keywarden` run `prepare` (scripts/build.mjs)
 * in a checkout whose server may be running. The real build script runs here on a small package
 * of the same layout (src/ compiled by tsc into dist/, console/ built by vite into console/dist/,
 * the repository's node_modules by symlink), so that each build takes seconds, while the console's
 * static route serves console/dist and the dist modules are read as a server would load them.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** Every built file under `dir` (relative path → content), the stamp aside. */
function snapshot(dir: string): Map<string, string> {
  return new Map(
    files(dir)
      .filter((f) => !f.endsWith('.build-stamp'))
      .map((f) => [relative(dir, f), readFileSync(f, 'utf8')]),
  );
}

const mtimes = (dir: string): Map<string, number> =>
  new Map(files(dir).map((f) => [relative(dir, f), statSync(f).mtimeMs]));

/** Runs scripts/build.mjs in `pkg` without blocking the event loop, so the test can poll meanwhile. */
function build(pkg: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(pkg, 'scripts', 'build.mjs')], { cwd: pkg });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, output });
    });
  });
}

function makePackage(pkg: string): void {
  mkdirSync(join(pkg, 'scripts'));
  copyFileSync(join(ROOT, 'scripts', 'build.mjs'), join(pkg, 'scripts', 'build.mjs'));
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({ name: 'kw-build', type: 'module', private: true }),
  );
  writeFileSync(
    join(pkg, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2022'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        types: [],
        rootDir: 'src',
        outDir: 'dist',
      },
      include: ['src'],
    }),
  );
  mkdirSync(join(pkg, 'src', 'core'), { recursive: true });
  writeFileSync(join(pkg, 'src', 'core', 'rules.ts'), 'export const rule = (n: number): boolean => n > 2;\n');
  writeFileSync(
    join(pkg, 'src', 'main.ts'),
    "import { rule } from './core/rules.js';\nexport const main = (): boolean => rule(3);\n",
  );
  mkdirSync(join(pkg, 'console', 'src'), { recursive: true });
  copyFileSync(join(ROOT, 'console', 'vite.config.mjs'), join(pkg, 'console', 'vite.config.mjs'));
  writeFileSync(
    join(pkg, 'console', 'index.html'),
    '<!doctype html><html><body><div id="root"></div><script type="module" src="/src/main.ts"></script></body></html>\n',
  );
  writeFileSync(
    join(pkg, 'console', 'src', 'main.ts'),
    "import { rule } from '../../src/core/rules.js';\ndocument.getElementById('root')!.textContent = String(rule(3));\n",
  );
}

describe('scripts/build.mjs under a running server', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-build-'));
  const pkg = join(dir, 'pkg');
  const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  let base: string;
  before(async () => {
    mkdirSync(pkg);
    makePackage(pkg);
    const first = await build(pkg);
    assert.equal(first.code, 0, first.output);
    await consoleStatic(app, join(pkg, 'console', 'dist'));
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a rebuild keeps every served file in place, and builds the same output', async () => {
    const dist = snapshot(join(pkg, 'dist'));
    const web = snapshot(join(pkg, 'console', 'dist'));
    assert.ok(dist.has('main.js') && dist.has(join('core', 'rules.js')), [...dist.keys()].join(', '));
    const urls = [...web.keys()].map((rel) => (rel === 'index.html' ? '/' : `/${rel.split('\\').join('/')}`));
    assert.ok(
      urls.some((u) => u.startsWith('/assets/')),
      urls.join(', '),
    );
    // The sources change (saved again, same content): both outputs are rebuilt and swapped in.
    const now = new Date();
    for (const f of [join(pkg, 'src', 'core', 'rules.ts'), join(pkg, 'console', 'src', 'main.ts')])
      utimesSync(f, now, now);
    const building = build(pkg);
    let done = false;
    void building.finally(() => (done = true));
    const failures: string[] = [];
    let polls = 0;
    while (!done) {
      polls++;
      for (const url of urls) {
        const rel = url === '/' ? 'index.html' : url.slice(1);
        const r = await fetch(base + url);
        const body = await r.text();
        if (r.status !== 200 || body !== web.get(rel)) failures.push(`${url}: ${r.status}`);
      }
      for (const [rel, content] of dist) {
        let now: string;
        try {
          now = readFileSync(join(pkg, 'dist', rel), 'utf8');
        } catch (err) {
          now = String(err);
        }
        if (now !== content) failures.push(`dist/${rel}: ${now.slice(0, 80)}`);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    const rebuilt = await building;
    assert.equal(rebuilt.code, 0, rebuilt.output);
    assert.doesNotMatch(rebuilt.output, /up to date/, 'both outputs were rebuilt');
    assert.ok(polls >= 3, `polled only ${polls} times during the build`);
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failed reads during the build`);
    assert.deepEqual(snapshot(join(pkg, 'dist')), dist);
    assert.deepEqual(snapshot(join(pkg, 'console', 'dist')), web);
    assert.deepEqual(
      readdirSync(pkg).filter((f) => f.startsWith('.dist-build-')),
      [],
      'no temporary directory left',
    );
  });

  test('a build with unchanged sources rewrites nothing', async () => {
    const before = { dist: mtimes(join(pkg, 'dist')), web: mtimes(join(pkg, 'console', 'dist')) };
    const again = await build(pkg);
    assert.equal(again.code, 0, again.output);
    assert.match(again.output, /^dist\/ is up to date$/m);
    assert.match(again.output, /^console\/dist\/ is up to date$/m);
    assert.deepEqual(mtimes(join(pkg, 'dist')), before.dist);
    assert.deepEqual(mtimes(join(pkg, 'console', 'dist')), before.web);
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
  });
});
