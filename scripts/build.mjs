// `npm run build`: compiles src/ into dist/ and the console into console/dist/, safely under a
// running server. Idempotent: when no input is newer than the last build, it does nothing. Else
// it builds into temporary directories and moves each file into place with rename(2) (atomic per
// file), then removes files the new build no longer has: the served directories are never empty
// and a file is never half-written. `--force` rebuilds regardless.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
// The stamp carries the build's start time: an input saved during the build triggers the next one.
const started = new Date();
function stamp(path) {
  writeFileSync(path, `${started.toISOString()}\n`);
  utimesSync(path, started, started);
}

function files(dir, skip = () => false) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (skip(p)) return [];
    return e.isDirectory() ? files(p, skip) : [p];
  });
}

const newest = (paths) => Math.max(0, ...paths.map((p) => statSync(p).mtimeMs));

function upToDate(stamp, inputs) {
  if (force || !existsSync(stamp)) return false;
  return newest(inputs) <= statSync(stamp).mtimeMs;
}

/** Moves every file of `from` into `to` (atomic per file), then deletes what `from` did not have. */
function swapIn(from, to) {
  const fresh = new Set(files(from).map((f) => relative(from, f)));
  // The stamp last: a build stopped halfway leaves the old stamp, so the next one runs again.
  const order = [...fresh].sort((a, b) => Number(a === '.build-stamp') - Number(b === '.build-stamp'));
  for (const rel of order) {
    mkdirSync(dirname(join(to, rel)), { recursive: true });
    renameSync(join(from, rel), join(to, rel));
  }
  for (const f of files(to)) if (!fresh.has(relative(to, f))) rmSync(f);
  rmSync(from, { recursive: true, force: true });
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const common = ['package.json', 'package-lock.json'].map((f) => join(root, f)).filter(existsSync);

// The server: tsc into a temporary directory beside dist/ (same file system, so rename works).
const distStamp = join(root, 'dist', '.build-stamp');
const serverInputs = [...files(join(root, 'src')), join(root, 'tsconfig.json'), ...common];
if (upToDate(distStamp, serverInputs)) {
  console.log('dist/ is up to date');
} else {
  const tmp = join(root, `.dist-build-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  run(process.execPath, [
    join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    'tsconfig.json',
    '--outDir',
    tmp,
  ]);
  stamp(join(tmp, '.build-stamp'));
  swapIn(tmp, join(root, 'dist'));
}

// The console: vite into a temporary directory, swapped in the same way.
const consoleDir = join(root, 'console');
const consoleStamp = join(consoleDir, 'dist', '.build-stamp');
const consoleInputs = [
  ...files(
    consoleDir,
    (p) => p === join(consoleDir, 'dist') || p.startsWith(join(consoleDir, '.dist-build-')),
  ),
  // The console imports the pure core's policy and permission rules.
  ...files(join(root, 'src', 'core')),
  ...common,
];
if (upToDate(consoleStamp, consoleInputs)) {
  console.log('console/dist/ is up to date');
} else {
  const tmp = join(consoleDir, `.dist-build-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  run(process.execPath, [
    join(root, 'node_modules', 'vite', 'bin', 'vite.js'),
    'build',
    'console',
    '--logLevel',
    'warn',
    '--outDir',
    tmp,
    '--emptyOutDir',
  ]);
  stamp(join(tmp, '.build-stamp'));
  swapIn(tmp, join(consoleDir, 'dist'));
}
