import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/*
 * The inner loop (issue 18, item 8): `npm run test:fast` and `npm run test:watch` run
 * scripts/test-fast.mjs over a fast set of compiled test folders. A folder renamed or moved would
 * silently drop its tests from the set; this keeps the set pointing at tests.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function tests(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tests(join(dir, e.name)) : e.name.endsWith('.test.js') ? [e.name] : [],
  );
}

test('test:fast and test:watch run the fast set, and every folder of it holds compiled tests', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  assert.equal(pkg.scripts['test:fast'], 'node scripts/test-fast.mjs');
  assert.equal(pkg.scripts['test:watch'], 'node scripts/test-fast.mjs --watch');
  const script = readFileSync(join(ROOT, 'scripts', 'test-fast.mjs'), 'utf8');
  const fast = /const FAST = \[([^\]]*)\]/.exec(script)?.[1] ?? '';
  const folders = [...fast.matchAll(/'([^']+)'/g)].map((m) => m[1] ?? '');
  assert.ok(folders.length >= 3, `FAST: ${fast}`);
  for (const f of ['dist/core/', 'dist/storage/', 'dist/sdk/']) assert.ok(folders.includes(f), f);
  for (const folder of folders) {
    assert.ok(existsSync(join(ROOT, folder)), `${folder} does not exist`);
    assert.ok(tests(join(ROOT, folder)).length > 0, `${folder} holds no test`);
  }
});
