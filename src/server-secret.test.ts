import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from './config.js';
import { SECRET_FILE, resolveServerSecret } from './server-secret.js';

test('PostgreSQL: KEYWARDEN_SECRET is required, and named', () => {
  assert.throws(
    () => resolveServerSecret(loadConfig({ KEYWARDEN_DATABASE_URL: 'postgres://db.example/kw' })),
    /KEYWARDEN_SECRET is required with PostgreSQL/,
  );
  assert.throws(() => loadConfig({ KEYWARDEN_SECRET: 'short' }), /KEYWARDEN_SECRET must be at least 32/);
  const given = 'x'.repeat(32);
  assert.equal(
    resolveServerSecret(
      loadConfig({ KEYWARDEN_DATABASE_URL: 'postgres://db.example/kw', KEYWARDEN_SECRET: given }),
    ),
    given,
  );
});

test('SQLite without KEYWARDEN_SECRET: generated once into the data directory (0600), then read', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'kw-secret-')), 'data');
  try {
    const config = loadConfig({ KEYWARDEN_DATA_DIR: dir });
    const first = resolveServerSecret(config);
    assert.ok(first.length >= 32);
    const file = join(dir, SECRET_FILE);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, 'utf8').trim(), first);
    assert.equal(resolveServerSecret(config), first, 'later starts read the same secret');
    chmodSync(file, 0o644);
    assert.throws(() => resolveServerSecret(config), /readable by other users: chmod 600/);
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});
