import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

/*
 * Docs where their readers are (issue 18, item 7): the bench README keeps to method and results,
 * the design reasons of the hot path live in docs/hot-path.md, one entry per optimisation naming
 * its files and what guards it, and the code links there. These checks keep it so.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (rel: string): string => readFileSync(join(ROOT, rel), 'utf8');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

const anchorsOf = (rel: string): Set<string> =>
  new Set([...read(rel).matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1] ?? '')));

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = join(dir, e.name);
    if (e.isDirectory()) return sources(rel);
    return /\.(ts|tsx|mjs)$/.test(e.name) ? [rel] : [];
  });
}

/** `problem` when `target` (a path relative to `from`'s folder, maybe with #anchor) does not resolve. */
function broken(from: string, target: string): string | null {
  const [path = '', anchor] = target.split('#');
  const file = path === '' ? from : relative(ROOT, join(ROOT, dirname(from), path));
  if (!existsSync(join(ROOT, file))) return `${from} → ${target}: no file ${file}`;
  if (anchor !== undefined && file.endsWith('.md') && !anchorsOf(file).has(anchor))
    return `${from} → ${target}: no heading #${anchor} in ${file}`;
  return null;
}

describe('docs where their readers are', () => {
  test('bench/README.md is method and latest results: at most 15 KB', () => {
    const size = statSync(join(ROOT, 'bench', 'README.md')).size;
    assert.ok(size <= 15 * 1024, `bench/README.md is ${size} bytes; design reasons go to docs/hot-path.md`);
  });

  test('every docs/hot-path.md entry names existing files, what guards it, and is linked from those files', () => {
    const text = read('docs/hot-path.md');
    const entries = text.split(/^## /m).slice(1);
    const optimisations = entries.filter((e) => e.includes('**Files:**'));
    assert.ok(optimisations.length >= 10, `${optimisations.length} entries`);
    for (const entry of optimisations) {
      const title = entry.slice(0, entry.indexOf('\n'));
      const files = /\*\*Files:\*\*([^]*?)(?:\n\n)/.exec(entry)?.[1] ?? '';
      const named = [...files.matchAll(/`((?:src|bench|scripts)\/[^`]+?\.(?:ts|mjs))`/g)].map(
        (m) => m[1] ?? '',
      );
      assert.ok(named.length > 0, `${title}: names no file`);
      for (const f of named) {
        assert.ok(existsSync(join(ROOT, f)), `${title}: ${f} does not exist`);
        if (f.startsWith('src/'))
          assert.match(read(f), /docs\/hot-path\.md/, `${title}: ${f} does not link to docs/hot-path.md`);
      }
      const guard = /\*\*Guarded by\.\*\*([^]*?)(?:\n\n|$)/.exec(entry)?.[1] ?? '';
      const guards = [...guard.matchAll(/`((?:src|bench)\/[^`]+?\.(?:ts|mjs))`|`([a-z-]+\.mjs)`/g)];
      assert.ok(guards.length > 0, `${title}: names no test or benchmark that guards it`);
      for (const g of guards) {
        const f = g[1] ?? join('bench', g[2] ?? '');
        assert.ok(existsSync(join(ROOT, f)), `${title}: guard ${f} does not exist`);
      }
    }
  });

  test('links from the docs and from code comments to docs/*.md resolve, anchors included', () => {
    const problems: string[] = [];
    const docs = [
      'README.md',
      'CHANGELOG.md',
      'CONTRIBUTING.md',
      'SECURITY.md',
      'bench/README.md',
      ...readdirSync(join(ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    for (const doc of docs) {
      for (const m of read(doc).matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1] ?? '';
        if (/^[a-z]+:/.test(target)) continue;
        const p = broken(doc, target);
        if (p !== null) problems.push(p);
      }
    }
    for (const file of sources('src')) {
      for (const m of read(file).matchAll(/\bdocs\/([\w-]+\.md)(#[\w-]+)?/g)) {
        const p = broken('README.md', `docs/${m[1] ?? ''}${m[2] ?? ''}`);
        if (p !== null) problems.push(`${file}: ${p}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('the project files: LICENSE (Apache-2.0, as package.json), CHANGELOG, SECURITY, CONTRIBUTING', () => {
    const pkg = JSON.parse(read('package.json')) as { license?: string };
    assert.equal(pkg.license, 'Apache-2.0');
    assert.match(read('LICENSE'), /Apache License\s+Version 2\.0/);
    assert.match(read('CHANGELOG.md'), /^## \[Unreleased\]/m);
    assert.match(read('SECURITY.md'), /report/i);
    assert.match(read('SECURITY.md'), /scope/i);
    assert.match(read('CONTRIBUTING.md'), /npm run check/);
    assert.match(read('CONTRIBUTING.md'), /npm test/);
  });

  test('the operations guide covers backup, upgrades, TLS behind a proxy, systemd and root-key recovery', () => {
    const ops = read('docs/operations.md');
    for (const topic of [/keywarden backup/, /migrat/i, /nginx|caddy/i, /systemd/i, /recover-root/])
      assert.match(ops, topic);
  });
});
