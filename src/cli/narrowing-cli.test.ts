import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KeywardenClient } from '../sdk/client.js';
import { createKey, startServer, verify, type TestServer } from '../testing/harness.js';
import { cliGlobals, runCli, type CliRun } from '../testing/cli.js';

// The CLI runs in-process; the SDK client talks to the same server over HTTP.
describe('keywarden keys narrowing start|show|cancel, and the SDK client', () => {
  let t: TestServer;
  let url: string;
  let globals: string[];
  before(async () => {
    t = await startServer({ name: 'sqlite' });
    globals = await cliGlobals(t);
    url = globals[1] ?? '';
  });
  after(async () => t.close());

  const kw = (args: string[]): Promise<CliRun> => runCli(args, globals);

  test('start by name, show the refused calls, cancel; errors keep their detail', async () => {
    const k = await createKey(t, { permissions: ['agents:invoke', 'billing:read'] });
    const name = String(k.record.name);
    let r = await kw(['keys', 'narrowing', 'start', name, '--permission', 'billing:write']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /billing:write is not granted/);
    r = await kw(['keys', 'narrowing', 'start', name, '--permission', 'agents:invoke', '--days', '7']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Narrowing of key_\w+ to \[agents:invoke\]: shadow/);
    await verify(t, { key: k.key, permission: 'billing:read', ip: '192.0.2.9' });
    await t.kw.services.ctx.usage.flush();
    r = await kw(['keys', 'narrowing', 'show', name]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /would have refused 1 calls/);
    assert.match(r.stdout, /billing:read/);
    assert.match(r.stdout, /192\.0\.2\.9/);
    const client = new KeywardenClient({ url, adminKey: t.root });
    const n = await client.getNarrowing(k.id);
    assert.deepEqual([n.state, n.wouldHaveRefused, n.examples[0]?.permission], ['shadow', 1, 'billing:read']);
    r = await kw(['keys', 'narrowing', 'cancel', k.id, '--json']);
    assert.equal(r.code, 0, r.stderr);
    await assert.rejects(client.getNarrowing(k.id), /has no narrowing/);
    const again = await client.startNarrowing(k.id, {
      permissions: ['agents:invoke'],
      days: 3,
      autoApply: true,
    });
    assert.deepEqual([again.autoApply, again.state], [true, 'shadow']);
    await client.cancelNarrowing(k.id);
  });
});
