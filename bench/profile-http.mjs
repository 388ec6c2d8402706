// Profiles `keywarden serve` and the bare JSON-echo baseline under bench/http.mjs's load and
// prints, side by side, the server CPU time per request by source (package or file), from
// `node --cpu-prof` self times: `node bench/profile-http.mjs [seconds] [frames]`. Per-request
// times depend less than req/s on what else the shared machine is doing, but not nothing (the
// echo server's main thread: 25.8 to 37.8 µs per request in three sittings within an hour on an
// AMD host): compare servers profiled in the same sitting.
// It also prints the CPU time each server thread used per request (Linux /proc: the main thread,
// the usage writer and V8's helpers) and the load generator's own, which share the same cores.
// The .cpuprofile files are kept (their paths are printed) for a flame-graph viewer.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { bulkKeys, freshKeywarden } from './lib.mjs';

const seconds = Number(process.argv[2] ?? 10);
const topFrames = Number(process.argv[3] ?? 25);
const BIN = new URL('../bin/keywarden.js', import.meta.url).pathname;
const BARE = new URL('./servers/bare.mjs', import.meta.url).pathname;

const { kw, root, dir } = await freshKeywarden();
const { pool } = await bulkKeys(kw, 10_000, 10_000, 'insert 10000 keys');
await kw.close();
const headers = { 'content-type': 'application/json', authorization: `Bearer ${root}` };
let next = 0;
const body = () =>
  JSON.stringify({ key: pool[next++ % pool.length], environment: 'production', permission: 'agents:invoke' });
const load = (url, opts) =>
  new Promise((resolve, reject) =>
    autocannon(
      {
        url,
        method: 'POST',
        connections: 50,
        headers,
        requests: [{ setupRequest: (r) => ({ ...r, body: body() }) }],
        ...opts,
      },
      (err, r) => (err ? reject(err) : resolve(r)),
    ),
  );

async function profile(name, args, env, url, health) {
  const profDir = mkdtempSync(join(tmpdir(), `kw-prof-${name}-`));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const proc = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, ...args], {
    env: { ...process.env, ...env(port) },
    stdio: 'inherit',
  });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}${health}`)).status < 500) break;
    } catch {
      if (i > 200) throw new Error(`${name} did not come up`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await load(`http://127.0.0.1:${port}${url}`, { amount: pool.length }); // every key cached once
  const cpu0 = threadTicks(proc.pid);
  const self0 = process.cpuUsage();
  const res = await load(`http://127.0.0.1:${port}${url}`, { duration: seconds });
  const cpu1 = threadTicks(proc.pid);
  const self = process.cpuUsage(self0);
  proc.kill('SIGTERM');
  await new Promise((r) => proc.on('exit', r));
  // CPU time each thread used during the measured run (not the warm-up), per request.
  const threads = { main: 0, mainSystem: 0, others: [] };
  const perReqUs = (ticks) => (ticks * 1e6) / TICKS_PER_SECOND / res.requests.total;
  for (const [tid, [user, system]] of cpu1) {
    const [user0, system0] = cpu0.get(tid) ?? [0, 0];
    const us = perReqUs(user - user0 + system - system0);
    if (tid === proc.pid) {
      threads.main = us;
      threads.mainSystem = perReqUs(system - system0);
    } else if (us > 0) threads.others.push(us);
  }
  threads.others.sort((a, b) => b - a);
  threads.client = (self.user + self.system) / res.requests.total;
  // The main thread's profile (a worker thread writes its own file, thread id > 0).
  const file = join(
    profDir,
    readdirSync(profDir).find((n) => /\.\d+\.0\.\d+\.cpuprofile$/.test(n)),
  );
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const frames = new Map();
  const sources = new Map();
  prof.samples.forEach((id, i) => {
    const cf = byId.get(id).callFrame;
    if (cf.functionName === '(idle)') return;
    const t = prof.timeDeltas[i] ?? 0;
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(cf.url);
    const src = cf.url === '' ? cf.functionName : m !== null ? m[1] : cf.url.replace(/.*\/dist\//, 'dist/');
    const frame = `${cf.functionName || '(anonymous)'} ${src}:${cf.lineNumber + 1}`;
    sources.set(src, (sources.get(src) ?? 0) + t);
    frames.set(frame, (frames.get(frame) ?? 0) + t);
  });
  // Samples cover the warm-up too: per request over all requests the process served.
  const requests = res.requests.total + pool.length;
  const perReq = (m) => new Map([...m].map(([k, t]) => [k, t / requests]));
  console.log(
    `${name}: ${Math.round(res.requests.average)} req/s, p50 ${res.latency.p50} ms, p99 ${res.latency.p99} ms; profile ${file}`,
  );
  return { sources: perReq(sources), frames: perReq(frames), threads };
}

/** Linux clock ticks per second (USER_HZ), in which /proc reports CPU time. */
const TICKS_PER_SECOND = 100;

/** Thread id → [user, system] CPU ticks so far, from /proc (Linux); empty elsewhere. */
function threadTicks(pid) {
  const out = new Map();
  let tids = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), [Number(f[11]), Number(f[12])]);
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

const kwProf = await profile(
  'keywarden',
  [BIN, 'serve'],
  (port) => ({ KEYWARDEN_DATA_DIR: dir, KEYWARDEN_PORT: String(port), KEYWARDEN_LOG_LEVEL: 'warn' }),
  '/v1/verify',
  '/healthz',
);
const echoProf = await profile('echo', [BARE], (port) => ({ PORT: String(port) }), '/echo', '/hello');

const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0);
const f = (x) => (x === undefined ? '' : x.toFixed(2));
// What each thread really used (from the kernel's accounting). A profile's self time of a system
// call (writev) also counts the time the thread waited for a core while in it: on shared cores
// it grows with whatever else runs, the server's other threads included.
console.log('\nCPU µs per request by thread (/proc, the measured run only):');
for (const [name, p] of [
  ['keywarden', kwProf],
  ['echo', echoProf],
]) {
  const t = p.threads;
  const others = t.others.map((x) => x.toFixed(2)).join(', ');
  const total = t.main + t.others.reduce((a, b) => a + b, 0);
  console.log(
    `  ${name.padEnd(9)} main ${f(t.main)} (kernel ${f(t.mainSystem)}), other threads ${others || '0'} (server ${f(total)}); load generator ${f(t.client)}`,
  );
}
console.log(
  `\nCPU µs per request (self time, idle excluded): keywarden ${f(sum(kwProf.sources))}, echo ${f(sum(echoProf.sources))}`,
);
console.log(`\n${'source'.padEnd(48)} ${'keywarden'.padStart(10)} ${'echo'.padStart(8)}`);
const keys = new Set([...kwProf.sources.keys(), ...echoProf.sources.keys()]);
for (const k of [...keys]
  .sort((a, b) => (kwProf.sources.get(b) ?? 0) - (kwProf.sources.get(a) ?? 0))
  .slice(0, 40)) {
  console.log(
    `${k.slice(0, 48).padEnd(48)} ${f(kwProf.sources.get(k)).padStart(10)} ${f(echoProf.sources.get(k)).padStart(8)}`,
  );
}
console.log(`\nkeywarden's heaviest frames (µs per request):`);
for (const [k, t] of [...kwProf.frames].sort((a, b) => b[1] - a[1]).slice(0, topFrames))
  console.log(`${f(t).padStart(6)} ${k}`);
