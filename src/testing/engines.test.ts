import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

/*
 * Keywarden runs on Node 20 (package.json `engines`). A dependency that declares a newer Node may
 * use an API Node 20 lacks, and npm only warns about it (EBADENGINE) while installing. Every
 * package the lockfile installs must accept the oldest Node we accept; optional packages are
 * platform builds that npm skips where they do not fit.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface LockPackage {
  version?: string;
  optional?: boolean;
  engines?: { node?: string } | string[];
}

test('every installed dependency supports the oldest Node that package.json accepts', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  const oldest = semver.minVersion(pkg.engines.node);
  assert.ok(oldest !== null && oldest.major === 20, `engines.node ${pkg.engines.node} starts at Node 20`);
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockPackage>;
  };
  const refused: string[] = [];
  let checked = 0;
  for (const [path, p] of Object.entries(lock.packages)) {
    // Old lockfile entries may hold engines as a list of strings: nothing to check there.
    const range = Array.isArray(p.engines) ? undefined : p.engines?.node;
    if (path === '' || p.optional === true || range === undefined) continue;
    checked++;
    if (!semver.satisfies(oldest, range, { includePrerelease: true }))
      refused.push(`${path.replace(/^.*node_modules\//, '')}@${p.version ?? '?'} wants Node ${range}`);
  }
  assert.ok(checked > 100, `only ${checked} packages declare engines: is this the lockfile?`);
  assert.deepEqual(refused, [], `pin or override these for Node ${oldest.version}`);
});
