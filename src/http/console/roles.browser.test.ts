import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  describeViolations,
  haveChromium,
  launch,
  openContext,
  screenshot,
  seriousViolations,
} from '../../testing/browser.js';
import { createKey, startServer, verify, type TestServer } from '../../testing/harness.js';

/** The Roles page and role picking in the key form, in a real browser against a real server. */
describe('web console, roles (Chromium)', { skip: haveChromium ? false : 'no Chromium' }, () => {
  let t: TestServer;
  let browser: Browser;
  let page: Page;
  let problems: string[];

  before(async () => {
    t = await startServer({ name: 'sqlite' });
    await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = t.kw.app.server.address();
    assert.ok(addr !== null && typeof addr === 'object');
    browser = await launch();
    ({ page, problems } = await openContext(browser, `http://127.0.0.1:${addr.port}`));
    await page.goto('/');
    await page.getByLabel('Admin key').fill(t.root);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'API Keys' }).waitFor();
  });
  after(async () => {
    await browser.close();
    await t.close();
  });

  test('create a role, pick it for a key, edit it: the key follows; delete is refused while held', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Roles' }).click();
    await page.getByRole('heading', { name: 'Roles' }).waitFor();
    await page.getByRole('button', { name: 'Create role' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create a role' });
    await dialog.getByLabel('Name').fill('ledger-reader');
    await dialog.getByLabel('Permissions (one per line)').fill('ledger:read\nledger:list');
    await dialog.getByRole('button', { name: 'Create role' }).click();
    const row = page.getByRole('row', { name: /ledger-reader/ });
    await row.waitFor();
    assert.match(await row.innerText(), /ledger:read, ledger:list/);
    const v = await seriousViolations(page);
    assert.deepEqual(v, [], describeViolations(v));

    const k = await createKey(t, { name: 'crm-prod-ledger', permissions: [] });
    await page.goto(`/#/keys/${k.id}`);
    await page.getByRole('group', { name: 'Key actions' }).getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('dialog', { name: 'Edit crm-prod-ledger' });
    await form
      .getByTestId('role-picker')
      .getByLabel(/ledger-reader/)
      .check();
    const sent = page.waitForRequest((r) => r.method() === 'PATCH');
    await form.getByRole('button', { name: 'Save changes' }).click();
    assert.deepEqual((await sent).postDataJSON(), { roles: ['ledger-reader'] }, 'only the roles are sent');
    await form.waitFor({ state: 'detached' });
    const rec = (await verify(t, { key: k.key, permission: 'ledger:read' })).code;
    assert.equal(rec, 'VALID');

    await page.goto('/#/roles');
    await row.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit role ledger-reader' });
    await edit.getByText(/1 key\(s\) hold this role/).waitFor();
    await edit.getByLabel('Permissions (one per line)').fill('ledger:list');
    await edit.getByRole('button', { name: 'Save role' }).click();
    await edit.waitFor({ state: 'detached' });
    assert.equal(
      (await verify(t, { key: k.key, permission: 'ledger:read' })).code,
      'INSUFFICIENT_PERMISSIONS',
    );

    await row.getByRole('button', { name: 'Delete' }).click();
    const del = page.getByRole('dialog', { name: /Delete role/ });
    await del.getByRole('button', { name: 'Delete role' }).click();
    await del
      .getByText(/still held by 1 key/)
      .last()
      .waitFor();
    await screenshot(page, 'roles-delete-refused');
    assert.deepEqual(problems, []);
  });
});
