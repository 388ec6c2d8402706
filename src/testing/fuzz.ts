import { request } from 'node:http';
import { sql, type Kysely } from 'kysely';

/**
 * A seeded fuzz campaign generated from the server's own OpenAPI document (read at run time, so a
 * new route is fuzzed without a change here). Every request is hostile in some way: a broken
 * path parameter, a wrong query, a body that is almost what the schema wants, garbage bytes, the
 * wrong media type, no or a wrong admin key. The server must answer each one: no 5xx, no dropped
 * connection, every error in problem+json with `code` and `detail`, and a refused request must
 * not have created or changed a record.
 */
export interface FuzzReport {
  requests: number;
  byStatus: Record<string, number>;
  failures: string[];
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = Record<string, unknown>;

interface Operation {
  method: string;
  path: string;
  params: Schema[];
  body: Schema | undefined;
}

/** Percent-encodes text; a lone surrogate (which encodeURIComponent refuses) goes as raw bytes. */
function enc(v: Json): string {
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  try {
    return encodeURIComponent(text);
  } catch {
    return '%ED%A0%80';
  }
}

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789-'.split('');

const HOSTILE_SEGMENTS = [
  '%00',
  '%ff%fe',
  '%E0%A4%A',
  'a'.repeat(300),
  '..%2f..%2fetc%2fpasswd',
  '%2e%2e',
  '%F0%9F%98%80',
  '%ED%A0%80',
  'key_0000000000000000000000',
  'kw_prod_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  '-1',
  '1e309',
  'null',
  '%20',
  "'%20OR%201=1--",
  '%3Cscript%3E',
];

const HOSTILE_VALUES: Json[] = [
  null,
  true,
  -1,
  0,
  1e308,
  -1e308,
  2 ** 53 + 1,
  0.5,
  '',
  ' ',
  'x'.repeat(10_000),
  '\u0000',
  '\ud800',
  '../../etc/passwd',
  "' OR 1=1 --",
  '<script>alert(1)</script>',
  '2026-13-45T99:99:99Z',
  '*',
  '::',
  '999.1.1.1/99',
  [],
  {},
  { __proto__x: 1 },
  [[[[[[]]]]]],
];

export class Fuzzer {
  private readonly rand: () => number;
  private readonly ops: Operation[];

  constructor(
    private readonly doc: Record<string, unknown>,
    seed: number,
  ) {
    this.rand = rng(seed);
    this.ops = operations(doc);
  }

  private pick<T>(xs: readonly T[]): T {
    const x = xs[Math.floor(this.rand() * xs.length)];
    if (x === undefined) throw new Error('empty choice');
    return x;
  }

  private chance(p: number): boolean {
    return this.rand() < p;
  }

  private resolve(s: Schema): Schema {
    const ref = s.$ref;
    if (typeof ref !== 'string') return s;
    const name = ref.split('/').pop() ?? '';
    const comps = (this.doc.components as { schemas?: Record<string, Schema> } | undefined)?.schemas ?? {};
    return comps[name] ?? {};
  }

  /** A value the schema would (nearly always) accept. */
  private valid(s0: Schema, depth = 0): Json {
    const s = this.resolve(s0);
    if (s.const !== undefined) return s.const as Json;
    if (Array.isArray(s.enum)) return this.pick(s.enum as Json[]);
    const alts = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
    if (alts !== undefined && alts.length > 0) return this.valid(this.pick(alts), depth);
    const type = Array.isArray(s.type)
      ? this.pick<string>(s.type as string[])
      : (s.type as string | undefined);
    switch (type) {
      case 'string': {
        if (s.format === 'date-time') return new Date(Date.now() + 86_400_000 * 30).toISOString();
        if (s.format === 'email') return 'someone@example.com';
        if (s.format === 'uri') return 'https://example.com/hook';
        const min = typeof s.minLength === 'number' ? s.minLength : 1;
        const max = Math.min(typeof s.maxLength === 'number' ? s.maxLength : 24, 24);
        const n = Math.max(min, Math.min(max, 3 + Math.floor(this.rand() * 10)));
        return Array.from({ length: n }, () => this.pick(ALPHABET)).join('');
      }
      case 'integer':
      case 'number': {
        const min = typeof s.minimum === 'number' ? s.minimum : 0;
        const max = typeof s.maximum === 'number' ? s.maximum : min + 100;
        return Math.floor(min + this.rand() * Math.min(100, max - min + 1));
      }
      case 'boolean':
        return this.chance(0.5);
      case 'null':
        return null;
      case 'array': {
        if (depth > 4) return [];
        const items = (s.items ?? {}) as Schema;
        return Array.from({ length: Math.floor(this.rand() * 3) }, () => this.valid(items, depth + 1));
      }
      default: {
        if (depth > 4) return {};
        const props = (s.properties ?? {}) as Record<string, Schema>;
        const required = new Set((s.required ?? []) as string[]);
        const out: Record<string, Json> = {};
        for (const [k, v] of Object.entries(props)) {
          if (required.has(k) || this.chance(0.5)) out[k] = this.valid(v, depth + 1);
        }
        return out;
      }
    }
  }

  /** A valid value with one or more hostile changes. */
  private mutate(v: Json, depth = 0): Json {
    if (depth > 6 || this.chance(0.25)) return this.pick(HOSTILE_VALUES);
    if (Array.isArray(v))
      return this.chance(0.5) ? [...v, this.pick(HOSTILE_VALUES)] : v.map((x) => this.mutate(x, depth + 1));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, Json> = { ...v };
      const keys = Object.keys(out);
      const r = this.rand();
      if (r < 0.2 && keys.length > 0) {
        const drop = this.pick(keys);
        return Object.fromEntries(Object.entries(out).filter(([k]) => k !== drop));
      } else if (r < 0.35)
        out[this.pick(['unknownField', 'constructor', 'prototype', ''])] = this.pick(HOSTILE_VALUES);
      else if (keys.length > 0) {
        const k = this.pick(keys);
        out[k] = this.mutate(out[k] ?? null, depth + 1);
      }
      return out;
    }
    return this.pick(HOSTILE_VALUES);
  }

  private segment(s: Schema): string {
    if (this.chance(0.7)) return this.pick(HOSTILE_SEGMENTS);
    const v = this.valid(s);
    return enc(v);
  }

  /** The next request: method, path with query, headers and raw body. */
  next(rootKey: string): { method: string; path: string; headers: Record<string, string>; body?: Buffer } {
    const op = this.pick(this.ops);
    let path = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
      const p = op.params.find((x) => x.name === name && x.in === 'path');
      return this.segment((p?.schema ?? {}) as Schema);
    });
    const query: string[] = [];
    for (const p of op.params.filter((x) => x.in === 'query')) {
      if (!this.chance(0.4)) continue;
      const v = this.chance(0.5) ? this.valid((p.schema ?? {}) as Schema) : this.pick(HOSTILE_VALUES);
      query.push(`${String(p.name)}=${enc(v)}`);
    }
    if (this.chance(0.1)) query.push(`access_token=${rootKey}`);
    if (this.chance(0.05)) query.push('%ff=%00', 'a[b]=c');
    if (query.length > 0) path += `?${query.join('&')}`;
    let method = op.method.toUpperCase();
    if (this.chance(0.05)) method = this.pick(['PUT', 'PATCH', 'DELETE', 'OPTIONS', 'POST']);
    if (this.chance(0.03))
      path = this.pick(['/v1/nope', '/v1/keys/x/y/z', '/console/api/x', '/%zz', `/${'x'.repeat(5000)}`]);
    const headers: Record<string, string> = {};
    const auth = this.rand();
    if (auth < 0.6) headers.authorization = `Bearer ${rootKey}`;
    else if (auth < 0.75)
      headers.authorization = this.pick([
        'Bearer ',
        'Basic Zm9vOmJhcg==',
        `Bearer ${rootKey}x`,
        'Bearer kw_adm_000',
      ]);
    let body: Buffer | undefined;
    if (op.body !== undefined || this.chance(0.1)) {
      const r = this.rand();
      if (r < 0.6) {
        body = Buffer.from(JSON.stringify(this.mutate(this.valid(op.body ?? {}))));
        headers['content-type'] = 'application/json';
      } else if (r < 0.7) {
        body = Buffer.from(JSON.stringify(this.valid(op.body ?? {})));
        headers['content-type'] = this.pick([
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/json; charset=latin1',
          'application/jsonx',
          '',
        ]);
        if (headers['content-type'] === '') delete headers['content-type'];
      } else if (r < 0.8) {
        body = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
        headers['content-type'] = 'application/json';
      } else if (r < 0.9) {
        body = Buffer.from(
          this.pick([
            '{',
            '[1,2',
            '{"a":1}{"b":2}',
            '{"__proto__":{"x":1}}',
            '{"a":"\\ud800"}',
            '{"a":"\\u0000"}',
            'null',
            '1',
            '"s"',
            `${'['.repeat(100)}${']'.repeat(100)}`,
          ]),
        );
        headers['content-type'] = 'application/json';
      } else {
        headers['content-type'] = 'application/json';
        body = Buffer.alloc(0);
      }
    }
    // Framed by Content-Length whatever the method (Node's client sends a GET body unframed).
    if (body !== undefined) headers['content-length'] = String(body.length);
    return { method, path, headers, ...(body !== undefined ? { body } : {}) };
  }
}

function operations(doc: Record<string, unknown>): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, Schema>>)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const content = (op.requestBody as { content?: Record<string, { schema?: Schema }> } | undefined)
        ?.content;
      out.push({
        method,
        path,
        params: (op.parameters ?? []) as Schema[],
        body: content?.['application/json']?.schema,
      });
    }
  }
  if (out.length === 0) throw new Error('the OpenAPI document lists no operation');
  return out;
}

interface Answer {
  status: number;
  type: string;
  body: string;
}

function send(port: number, r: ReturnType<Fuzzer['next']>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: r.method, path: r.path, headers: r.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'] ?? '',
            body: Buffer.concat(chunks).toString(),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}

const WATCHED = ['keys', 'key_secrets', 'admin_keys', 'audit_log', 'webhooks', 'console_sessions', 'meta'];

/** Row counts of every table a refused request must leave alone, in one statement. */
async function counts(db: Kysely<unknown>): Promise<Record<string, number>> {
  const cols = WATCHED.map((t) => sql`(select count(*) from ${sql.table(t)}) as ${sql.ref(t)}`);
  const r = await sql<Record<string, number | string>>`select ${sql.join(cols)}`.execute(db);
  const row = r.rows[0] ?? {};
  return Object.fromEntries(WATCHED.map((t) => [t, Number(row[t] ?? 0)]));
}

/** The tables whose row count moved, as `audit_log +1 meta -2`; empty when none did. */
export function countChanges(before: Record<string, number>, after: Record<string, number>): string {
  return WATCHED.flatMap((t) => {
    const d = (after[t] ?? 0) - (before[t] ?? 0);
    return d === 0 ? [] : [`${t} ${d > 0 ? '+' : ''}${d}`];
  }).join(' ');
}

/** Runs `requests` fuzz requests one after the other against a listening server. */
export async function runFuzz(opts: {
  port: number;
  rootKey: string;
  seed: number;
  requests: number;
  db: Kysely<unknown>;
  /**
   * Commits the server's deferred writes before each non-GET request's "before" counts. Without
   * it, work an earlier request left behind lands inside the next window: the usage writer's
   * timed flush of a verification answered earlier inserts its progress marker into `meta` on its
   * first run, and that was once blamed on a refused DELETE.
   */
  settle?: () => Promise<void>;
}): Promise<FuzzReport> {
  const docAnswer = await send(opts.port, { method: 'GET', path: '/openapi.json', headers: {} });
  const fuzzer = new Fuzzer(JSON.parse(docAnswer.body) as Record<string, unknown>, opts.seed);
  const report: FuzzReport = { requests: 0, byStatus: {}, failures: [] };
  // The root key some requests carry in the query stays out of the report.
  const shown = (r: { method: string; path: string }): string =>
    `${r.method} ${r.path.replace(/access_token=[^&]*/g, 'access_token=[redacted]').slice(0, 120)}`;
  const fail = (what: string, r: { method: string; path: string }): void => {
    if (report.failures.length < 20) report.failures.push(`${what}: ${shown(r)}`);
  };
  let previous = '(none)';
  for (let i = 0; i < opts.requests; i++) {
    const r = fuzzer.next(opts.rootKey);
    if (r.method !== 'GET') await opts.settle?.();
    const before = r.method === 'GET' ? undefined : await counts(opts.db);
    let a: Answer;
    try {
      a = await send(opts.port, r);
    } catch (err) {
      fail(`dropped connection (${(err as Error).message})`, r);
      continue;
    } finally {
      report.requests++;
    }
    const bucket = `${Math.floor(a.status / 100)}xx`;
    report.byStatus[bucket] = (report.byStatus[bucket] ?? 0) + 1;
    if (a.status >= 500) fail(`status ${a.status} ${a.body.slice(0, 200)}`, r);
    if (a.status >= 400) {
      let problem: Record<string, unknown> = {};
      try {
        problem = JSON.parse(a.body) as Record<string, unknown>;
      } catch {
        /* checked below */
      }
      if (
        !a.type.startsWith('application/problem+json') ||
        typeof problem.code !== 'string' ||
        typeof problem.detail !== 'string' ||
        problem.detail === ''
      ) {
        fail(`not problem+json with code and detail (${a.status} ${a.type} ${a.body.slice(0, 120)})`, r);
      }
      const changed = before === undefined ? '' : countChanges(before, await counts(opts.db));
      if (changed !== '')
        fail(
          `request #${i} refused (${a.status}) yet records changed (${changed}; previous: ${previous})`,
          r,
        );
    }
    previous = `#${i} ${shown(r)} -> ${a.status}`;
  }
  return report;
}
