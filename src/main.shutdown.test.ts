import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStorage } from './storage/db.js';
import net from 'node:net';
import { aKey, createKey, startServer } from './testing/harness.js';
import { within } from './testing/nodes.js';

const BIN = new URL('../bin/keywarden.js', import.meta.url).pathname;

test('SIGTERM flushes the last usage batch before the process exits', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-shutdown-'));
  try {
    // A flush interval of an hour: only the shutdown flush can write these rows.
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: {
        ...process.env,
        KEYWARDEN_DATA_DIR: dir,
        KEYWARDEN_PORT: '0',
        KEYWARDEN_USAGE_FLUSH_MS: '3600000',
        KEYWARDEN_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => {
        resolve(code);
      }),
    );
    const deadline = Date.now() + 30_000;
    while (!/listening at (http:\/\/[0-9.:]+)/.test(out)) {
      if (Date.now() > deadline) throw new Error(`server did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = /listening at (http:\/\/[0-9.:]+)/.exec(out)?.[1] ?? '';
    const root = /(kw_adm_[0-9A-Za-z]+)/.exec(out)?.[1] ?? '';
    const h = { authorization: `Bearer ${root}`, 'content-type': 'application/json' };
    const created = (await (
      await fetch(`${url}/v1/keys`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify(aKey({ name: 'job-prod-nightly' })),
      })
    ).json()) as { key: string; record: { id: string } };
    for (let i = 0; i < 25; i++) {
      const r = await fetch(`${url}/v1/verify`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({ key: created.key, environment: 'production' }),
      });
      assert.equal(((await r.json()) as { code: string }).code, 'VALID');
    }
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    assert.match(out, /shutting down/);
    const s = openStorage({ dataDir: dir });
    // Minute rows: the calls are the sum of their counts.
    const rows = await s.db
      .selectFrom('verification_log')
      .select('count')
      .where('key_id', '=', created.record.id)
      .execute();
    const key = await s.db
      .selectFrom('keys')
      .select('last_used_at')
      .where('id', '=', created.record.id)
      .executeTakeFirstOrThrow();
    await s.close();
    assert.equal(
      rows.reduce((n, r) => n + r.count, 0),
      25,
    );
    assert.notEqual(key.last_used_at, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Sends raw HTTP on one socket and collects everything the server answers until it closes. */
function rawConnection(port: number): {
  socket: net.Socket;
  received: () => string;
  closed: Promise<void>;
} {
  const socket = net.connect(port, '127.0.0.1');
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString()));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      resolve();
    }),
  );
  return { socket, received: () => data, closed };
}

test('shutdown: idle keep-alive connections are closed, in-flight requests answered, late ones get a 503 problem', async () => {
  const t = await startServer({ name: 'sqlite' });
  let closed = false;
  try {
    const k = await createKey(t);
    await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.kw.app.server.address() as net.AddressInfo).port;
    const body = JSON.stringify({ key: k.key, environment: 'production' });
    const head = (len: number): string =>
      `POST /v1/verify HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\nauthorization: Bearer ${t.root}\r\n` +
      `content-type: application/json\r\ncontent-length: ${len}\r\n\r\n`;

    // An idle keep-alive connection (one request answered, nothing pending).
    const idle = rawConnection(port);
    idle.socket.write(head(Buffer.byteLength(body)) + body);
    await within(5000, () => idle.received().includes('"VALID"'));
    // An in-flight request: its headers are in, its body is not yet.
    const busy = rawConnection(port);
    busy.socket.write(head(Buffer.byteLength(body)));
    await new Promise((r) => setTimeout(r, 100));

    const closing = t.kw.close();
    await within(2000, async () => {
      await Promise.race([idle.closed, new Promise((r) => setTimeout(r, 10))]);
      return idle.socket.destroyed || idle.socket.readableEnded;
    });
    // The in-flight request completes; a second one sent behind it on the same connection meets
    // the closing server.
    busy.socket.write(body + head(Buffer.byteLength(body)) + body);
    await Promise.race([busy.closed, new Promise((r) => setTimeout(r, 5000))]);
    await closing;
    closed = true;
    const answers = busy.received().split(/(?=HTTP\/1\.1 )/);
    assert.match(answers[0] ?? '', /^HTTP\/1\.1 200/, busy.received());
    assert.match(answers[0] ?? '', /"VALID"/);
    assert.equal(answers.length, 2, busy.received());
    assert.match(answers[1] ?? '', /^HTTP\/1\.1 503/);
    assert.match(answers[1] ?? '', /content-type: application\/problem\+json/i);
    assert.match(answers[1] ?? '', /connection: close/i);
    assert.match(answers[1] ?? '', /"code":"SERVICE_UNAVAILABLE"/);
    assert.match(answers[1] ?? '', /shutting down/);
    assert.ok(!/"error":"Service Unavailable"/.test(busy.received()), 'never the framework default body');
  } finally {
    if (!closed) await t.kw.close();
    await t.close();
  }
});
