import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../testing/harness.js';
import { cliGlobals, runCli, type CliRun } from '../testing/cli.js';

// The CLI runs in-process against a listening server: its output goes through `output`.
describe('keywarden members add|list|remove|set-role', () => {
  let t: TestServer;
  let globals: string[];
  before(async () => {
    t = await startServer({ name: 'sqlite' });
    globals = await cliGlobals(t);
  });
  after(async () => t.close());

  const kw = (args: string[]): Promise<CliRun> => runCli(args, globals);

  test('add, list, set-role and remove, by id or email; errors name the problem', async () => {
    const add = await kw(['members', 'add', 'Ann@Example.com', '--role', 'owner', '--name', 'Ann']);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /^added ann@example\.com \(mem_\w+\): owner\n$/);
    const op = await kw([
      'members',
      'add',
      'bo@example.com',
      '--role',
      'operator',
      '--team',
      'crm',
      '--json',
    ]);
    assert.equal(op.code, 0, op.stderr);
    const bo = JSON.parse(op.stdout) as { id: string; team: string; role: string };
    assert.deepEqual([bo.team, bo.role], ['crm', 'operator']);
    const bad = await kw(['members', 'add', 'x@example.com', '--role', 'boss']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /owner, admin, operator, auditor/);
    const list = await kw(['members', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /ann@example\.com/);
    assert.match(list.stdout, /bo@example\.com +│ – +│ operator +│ crm /);
    const setRole = await kw(['members', 'set-role', 'bo@example.com', 'auditor', '--global']);
    assert.equal(setRole.code, 0, setRole.stderr);
    assert.match(setRole.stdout, /bo@example\.com \(mem_\w+\): auditor \(was operator, team crm\)/);
    const last = await kw(['members', 'set-role', 'ann@example.com', 'admin']);
    assert.notEqual(last.code, 0);
    assert.match(last.stderr, /last owner/);
    const rm = await kw(['members', 'remove', bo.id, '--yes']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, /^removed bo@example\.com/);
    const again = await kw(['members', 'remove', 'bo@example.com', '--yes']);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /no member with email bo@example\.com/);
  });
});
