import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CLIENT_SETTINGS, SETTINGS } from '../config.js';
import { README_END, README_START, tableRows } from './docs.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const TABLE = [...Object.values(SETTINGS), ...CLIENT_SETTINGS];

/** The markdown tables between the README's markers, as rows of trimmed cells (rules dropped). */
function readmeTables(): string[][][] {
  const start = README.indexOf(README_START);
  const end = README.indexOf(README_END);
  assert.ok(start >= 0 && end > start, 'README.md lacks the config markers');
  const tables: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of README.slice(start, end).split('\n')) {
    if (!line.startsWith('|')) {
      current = undefined;
      continue;
    }
    const cells = line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim().replace(/\\\|/g, '|'));
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    if (current === undefined) {
      current = [];
      tables.push(current);
    }
    current.push(cells);
  }
  return tables;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'testing' ? [] : sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

describe('configuration table, README and serve --help agree', () => {
  test('the README tables are the generated ones (run `npm run docs:config` after changing the table)', () => {
    const [server, client, ...more] = readmeTables();
    assert.equal(more.length, 0);
    assert.deepEqual(server?.slice(1), tableRows(Object.values(SETTINGS)));
    assert.deepEqual(client?.slice(1), tableRows(CLIENT_SETTINGS));
    assert.deepEqual(server[0], ['variable', 'type', 'default', 'allowed', 'meaning', 'docs']);
  });

  test('every KEYWARDEN_* variable read from the environment in src/ is in the table', () => {
    const names = new Set(TABLE.map((s) => s.name));
    const read = new Set<string>();
    // Test files and src/testing/ read test-only variables (KEYWARDEN_TEST_*): not configuration.
    for (const file of sourceFiles(join(ROOT, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\benv(?:\.|\[\s*['"`])(KEYWARDEN_[A-Z0-9_]+)/g)) {
        read.add(m[1] ?? '');
      }
    }
    assert.ok(read.has('KEYWARDEN_URL'), 'the scan finds the CLI reads');
    assert.deepEqual(
      [...read].filter((n) => !names.has(n as `KEYWARDEN_${string}`)),
      [],
    );
  });

  test('names are unique and every doc link points at a file or README heading', () => {
    assert.equal(new Set(TABLE.map((s) => s.name)).size, TABLE.length);
    const anchors = new Set(
      [...README.matchAll(/^#+ (.+)$/gm)].map(
        (m) =>
          `#${(m[1] ?? '')
            .toLowerCase()
            .replace(/[^a-z0-9 -]/g, '')
            .replace(/ /g, '-')}`,
      ),
    );
    for (const s of TABLE) {
      if (s.doc === undefined) continue;
      if (s.doc.startsWith('#')) assert.ok(anchors.has(s.doc), `${s.name}: no README heading ${s.doc}`);
      else assert.ok(existsSync(join(ROOT, s.doc)), `${s.name}: ${s.doc} does not exist`);
    }
  });

  test('keywarden serve --help lists every server variable with its default', async () => {
    const bin = join(ROOT, 'bin', 'keywarden.js');
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'serve', '--help']);
    assert.match(stdout, /--port <port>/);
    for (const s of Object.values(SETTINGS)) {
      const line = stdout.split('\n').find((l) => l.trimStart().startsWith(`${s.name} `));
      assert.ok(line !== undefined, `serve --help does not list ${s.name}`);
      if (s.default !== '') assert.ok(line.includes(`(default ${s.default.replace(/`/g, '')})`), line);
    }
  });
});
