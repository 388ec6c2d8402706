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
import { createKey, startServer, type TestServer } from '../../testing/harness.js';

/**
 * More of the console in a real browser against a real server (one server, one browser): the
 * rotation grace window on the key page, what the create form says before it submits, and a
 * narrowing's shadow rows in the verification log.
 */
describe(
  'web console, rotation and forms (Chromium)',
  { skip: haveChromium ? false : 'no Chromium (apt-get install chromium)' },
  () => {
    let t: TestServer;
    let base: string;
    let browser: Browser;
    let page: Page;
    let problems: string[];

    async function api(
      method: string,
      path: string,
      body?: unknown,
    ): Promise<{ status: number; body: unknown }> {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${t.root}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
    }

    async function verifyCode(key: string): Promise<string> {
      const r = await api('POST', '/v1/verify', { key, environment: 'production' });
      return (r.body as { code: string }).code;
    }

    async function axeClean(name: string): Promise<void> {
      for (const viewport of [
        { width: 1440, height: 900 },
        { width: 390, height: 844 },
      ]) {
        await page.setViewportSize(viewport);
        const v = await seriousViolations(page);
        assert.deepEqual(v, [], `axe on ${name} at ${viewport.width}px:\n${describeViolations(v)}`);
        const wide = await page.evaluate<boolean>(
          'document.documentElement.scrollWidth > document.documentElement.clientWidth',
        );
        assert.equal(wide, false, `${name} scrolls sideways at ${viewport.width}px`);
      }
      await page.setViewportSize({ width: 1440, height: 900 });
    }

    before(async () => {
      t = await startServer({ name: 'sqlite' });
      await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
      const addr = t.kw.app.server.address();
      assert.ok(addr !== null && typeof addr === 'object');
      base = `http://127.0.0.1:${addr.port}`;
      browser = await launch();
      ({ page, problems } = await openContext(browser, base));
      await page.goto('/');
      await page.getByLabel('Admin key').fill(t.root);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'API Keys' }).waitFor();
    });

    after(async () => {
      await browser.close();
      await t.close();
    });

    test('rotation: the key page says until when the previous secret works, and ends it on request', async () => {
      const k = await createKey(t, {
        name: 'billing-prod-ledger-export',
        environment: 'production',
        owner: { team: 'billing', contact: 'billing@example.com' },
      });
      const r = await api('POST', `/v1/keys/${k.id}/regenerate`, { gracePeriodSeconds: 86_400 });
      const fresh = (r.body as { key: string }).key;
      const until = (await api('GET', `/v1/keys/${k.id}`)).body as {
        rotation: { previousExpiresAt: string };
      };
      await page.goto(`/#/keys/${k.id}`);
      const note = page.locator('.grace-note');
      await note.waitFor();
      const shown = await note.innerText();
      // The absolute time of the window's end, to the second, in UTC.
      const expected = until.rotation.previousExpiresAt.replace('T', ' ').slice(0, 19);
      assert.ok(shown.includes(`works until ${expected} UTC`), shown);
      await axeClean('key page with a grace window');
      await screenshot(page, 'key-grace-window');

      // Keyboard: focus "End it now", confirm in the dialog.
      await page.getByRole('button', { name: 'End it now' }).focus();
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog', { name: /End the grace period/ });
      await dialog.waitFor();
      assert.match(await dialog.innerText(), /refuses every caller still using it/);
      await dialog.getByRole('button', { name: 'End it now' }).click();
      await page.getByRole('status').filter({ hasText: 'the previous secret no longer works' }).waitFor();
      await note.waitFor({ state: 'detached' });
      assert.equal(await verifyCode(k.key), 'EXPIRED');
      assert.equal(await verifyCode(fresh), 'VALID');
      assert.equal((await api('POST', `/v1/keys/${k.id}/end-grace`)).status, 409);
      assert.deepEqual(problems, []);
    });
    test('the create form: the naming rule in words, all problems at once, system and purpose from the name', async () => {
      await page.goto('/#/keys');
      await page.getByRole('button', { name: 'Create key' }).click();
      const dialog = page.getByRole('dialog', { name: 'Create an API key' });
      await dialog.waitFor();
      await page.keyboard.type('crm_prod');
      await dialog.getByText(/does not follow the naming rule: lowercase letters and digits/).waitFor();
      assert.ok(!(await dialog.innerText()).includes('[a-z0-9]'), 'no raw regular expression');
      await page.keyboard.press('Control+A');
      await page.keyboard.type('crm-prod-agent-call');
      assert.equal(await dialog.getByLabel('System', { exact: true }).inputValue(), 'crm');
      assert.equal(await dialog.getByLabel('Purpose', { exact: true }).inputValue(), 'agent-call');
      await dialog.getByLabel('Expires').selectOption('never');
      await dialog.getByText(/"Expires: never" is not allowed: production keys must expire within/).waitFor();
      await axeClean('create form with problems');
      await dialog.getByLabel('Owner team').fill('crm');
      await dialog.getByLabel('Owner contact').fill('crm@example.com');
      await dialog.locator('input[data-autofocus]').fill('crm-prod-temp');
      await dialog.getByRole('button', { name: 'Create key' }).click();
      const error = await dialog.locator('p.error').innerText();
      // The name and the expiry, in one answer, before any request is sent.
      assert.match(error, /generic name/);
      assert.match(error, /Expires: never/);
      const listed = (await api('GET', '/v1/keys?q=crm-prod')).body as { items: unknown[] };
      assert.equal(listed.items.length, 0, 'nothing was created');
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      assert.deepEqual(problems, []);
    });
    test("the log marks a narrowing's shadow rows as no outcome, and filters served calls from them", async () => {
      const k = await createKey(t, {
        name: 'crm-prod-shadowed-sync',
        owner: { team: 'crm', contact: 'crm@example.com' },
        permissions: ['agents:invoke', 'billing:read'],
      });
      const started = await api('POST', `/v1/keys/${k.id}/narrowing`, {
        permissions: ['agents:invoke'],
        days: 7,
      });
      assert.equal(started.status, 201);
      for (let i = 0; i < 2; i++) {
        const r = await api('POST', '/v1/verify', {
          key: k.key,
          environment: 'production',
          permission: 'billing:read',
        });
        assert.equal((r.body as { code: string }).code, 'VALID');
      }
      await t.kw.services.ctx.usage.flush();
      await page.goto('/#/logs');
      const search = page.getByRole('search', { name: 'Filter verifications' });
      await search.getByLabel('Key').fill('crm-prod-shadowed-sync');
      const shadowRow = page.getByRole('row', { name: /Narrowing would refuse: INSUFFICIENT_PERMISSIONS/ });
      await shadowRow.waitFor();
      assert.match(await shadowRow.innerText(), /billing:read/);
      // Not shown as an outcome: the plain INSUFFICIENT_PERMISSIONS pill is nowhere for this key.
      assert.equal(await page.locator('td > .code-INSUFFICIENT_PERMISSIONS').count(), 0);
      await page.getByRole('row', { name: /VALID/ }).first().waitFor();
      await axeClean('verification log with shadow rows');
      await search.getByLabel('Calls').selectOption({ label: 'Served calls only' });
      await shadowRow.waitFor({ state: 'detached' });
      await page.getByRole('row', { name: /VALID/ }).first().waitFor();
      await search.getByLabel('Calls').selectOption({ label: 'Narrowing shadow only' });
      await shadowRow.waitFor();
      assert.equal(await page.getByRole('row', { name: /\bVALID\b/ }).count(), 0);
      await page.getByRole('button', { name: 'Clear filters' }).click();
      assert.equal(await search.getByLabel('Calls').inputValue(), '');
      assert.deepEqual(problems, []);
    });
  },
);
