// The inner loop: compile with tsc only (incremental, no console build) and run the fast tests.
//
//   node scripts/test-fast.mjs                 # once (npm run test:fast)
//   node scripts/test-fast.mjs --watch         # again after every clean compile (npm run test:watch)
//   node scripts/test-fast.mjs --watch http    # watch, running the test files whose path contains "http"
//
// Without a filter it runs FAST: the pure core, storage on SQLite and the SDK, with the
// PostgreSQL/Redis/CI variables removed, so it needs no database server, no Redis and no
// Chromium. With a filter the environment is kept (export KEYWARDEN_TEST_DATABASE_URL to include
// PostgreSQL). `npm test` remains the whole suite.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Compiled test folders of the fast set. */
const FAST = ['dist/core/', 'dist/storage/', 'dist/sdk/', 'dist/runtime/memory/'];
const SERVICES = ['KEYWARDEN_TEST_DATABASE_URL', 'KEYWARDEN_TEST_REDIS_URL', 'CI'];

const args = process.argv.slice(2);
const watch = args.includes('--watch');
const filters = args.filter((a) => a !== '--watch');
const tests = filters.length > 0 ? filters : FAST;
const env = { ...process.env };
if (filters.length === 0) for (const v of SERVICES) delete env[v];

const tsc = join('node_modules', 'typescript', 'bin', 'tsc');
// The build info sits in dist/, so deleting dist/ also forgets it.
const tscArgs = [tsc, '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', 'dist/.tsbuildinfo'];
const runTests = [join('scripts', 'run-tests.mjs'), ...tests];

if (!watch) {
  const built = spawnSync(process.execPath, tscArgs, { stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
  const r = spawnSync(process.execPath, runTests, { stdio: 'inherit', env });
  process.exit(r.status ?? 1);
}

/** The test run in progress, stopped when a newer compile finishes first. */
let running = null;
function rerun() {
  if (running !== null) running.kill();
  const child = spawn(process.execPath, runTests, { stdio: 'inherit', env });
  running = child;
  child.on('exit', (code) => {
    if (running !== child) return;
    running = null;
    console.log(`\n[test:watch] tests ${code === 0 ? 'passed' : 'FAILED'}; waiting for changes…`);
  });
}

const compiler = spawn(process.execPath, [...tscArgs, '--watch', '--preserveWatchOutput'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let pending = '';
compiler.stdout.setEncoding('utf8');
compiler.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  pending += chunk;
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) {
    const m = /Found (\d+) errors?\. Watching for file changes/.exec(line);
    if (m !== null && m[1] === '0') rerun();
  }
});
compiler.on('exit', (code) => process.exit(code ?? 1));
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    running?.kill();
    compiler.kill();
    process.exit(130);
  });
}
