import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeywardenClient } from '../sdk/client.js';
import { cliGlobals } from '../testing/cli.js';
import { describeEachDialect } from '../testing/harness.js';
import { runDrill } from './commands/drill.js';

// Check 7 compares the log with the drill's attempts: a narrowing of the drill key adds shadow rows
// (calls its narrower set would have refused), which are no attempts.
describeEachDialect('the drill with a narrowing running on its key', (t) => {
  test("check 7 passes: the narrowing's shadow rows are not counted as attempts", async () => {
    const url = (await cliGlobals(t))[1] ?? '';
    const c = new KeywardenClient({ url, adminKey: t.root });
    // Someone narrows the drill key as soon as it exists: every VALID call also writes a shadow row.
    const create = c.createKey.bind(c);
    c.createKey = async (input) => {
      const made = await create(input);
      await c.startNarrowing(made.record.id, { permissions: ['agents:invoke:agt_1'], days: 1 });
      return made;
    };
    const res = await runDrill(c, {
      environment: 'production',
      permission: 'agents:invoke',
      limit: 3,
      team: 'keywarden-drill',
      contact: 'drill@localhost',
    });
    assert.ok(res.keyId !== null);
    const shadow = await c.listLogs({ keyId: res.keyId, shadow: true });
    assert.ok(shadow.items.length > 0, 'the narrowing wrote shadow rows');
    assert.deepEqual(
      res.checks.filter((x) => !x.ok),
      [],
    );
    assert.match(res.checks[6]?.detail ?? '', /attempts logged; lastUsedAt 20/);
  });
});
