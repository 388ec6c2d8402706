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

/** The console's Identities page and the identity picker of the key form, in Chromium (issue 22). */
describe(
  'web console, identities (Chromium)',
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

    async function axeClean(name: string): Promise<void> {
      for (const viewport of [
        { width: 1440, height: 900 },
        { width: 390, height: 844 },
      ]) {
        await page.setViewportSize(viewport);
        const v = await seriousViolations(page);
        assert.deepEqual(v, [], `axe on ${name} at ${viewport.width}px:\n${describeViolations(v)}`);
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

    test('create an identity, see its keys and per-customer usage, change its credits, delete it', async () => {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Identities' }).click();
      await page.getByRole('heading', { name: 'Identities' }).waitFor();
      await page.getByText('New identity').click();
      const form = page.getByRole('form', { name: 'New identity' });
      await form.getByLabel('External id').fill('acme');
      await form.getByLabel('Name').fill('Acme Corp');
      await form.getByLabel('Owner team').fill('crm');
      await form.getByLabel('Shared rate limits').fill('per-minute:600:60');
      await form.getByLabel('Shared credits').fill('100');
      await form.getByRole('button', { name: 'Create identity' }).click();
      await page.getByRole('status').filter({ hasText: 'Identity acme created' }).waitFor();
      const row = page.getByRole('row', { name: /acme/ });
      await row.waitFor();
      assert.match(await row.innerText(), /Acme Corp\s+crm\s+per-minute: 600\/min\s+100/);

      const list = (await api('GET', '/v1/identities?externalId=acme')).body as { items: { id: string }[] };
      const id = list.items[0]?.id ?? '';
      const keys = [
        await createKey(t, { identityId: id, name: 'crm-prod-acme-one' }),
        await createKey(t, { identityId: id, name: 'crm-prod-acme-two' }),
      ];
      for (const k of [...keys, keys[0]])
        assert.equal(
          (
            (await api('POST', '/v1/verify', { key: k?.key, environment: 'production' })).body as {
              code: string;
            }
          ).code,
          'VALID',
        );
      await t.kw.services.ctx.usage.flush();

      await row.getByRole('link', { name: 'acme' }).click();
      await page.getByRole('heading', { name: 'Acme Corp' }).waitFor();
      await page.getByRole('heading', { name: /Usage of its 2 keys/ }).waitFor();
      await page.getByRole('link', { name: 'crm-prod-acme-one' }).waitFor();
      assert.match(await page.locator('dl.facts').innerText(), /Shared credits\s+97/);
      await axeClean('identity page');
      await screenshot(page, 'identity-page');

      await page.getByText('Edit name, limits and credits').click();
      const edit = page.getByRole('form', { name: 'Edit identity' });
      await edit.getByLabel('Shared credits').fill('500');
      await edit.getByRole('button', { name: 'Save' }).click();
      await page.getByRole('status').filter({ hasText: 'Identity saved' }).waitFor();
      const v = (await api('POST', '/v1/verify', { key: keys[1]?.key, environment: 'production' })).body as {
        identity: { credits: { remaining: number } };
      };
      assert.equal(v.identity.credits.remaining, 499, 'the new balance applies at once');

      await page.getByRole('button', { name: 'Delete identity' }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete acme?' });
      await dialog.getByLabel(/Type/).fill('acme');
      await dialog.getByRole('button', { name: 'Delete identity' }).click();
      await page.getByRole('heading', { name: 'Identities' }).waitFor();
      assert.equal((await api('GET', `/v1/identities/${id}`)).status, 404);
      assert.equal(
        ((await api('GET', `/v1/keys/${keys[0]?.id ?? ''}`)).body as { identityId: unknown }).identityId,
        null,
      );
      assert.deepEqual(problems, []);
    });

    test("the key form's identity picker offers the owner team's identities and links the key", async () => {
      const made = await api('POST', '/v1/identities', {
        externalId: 'globex',
        name: 'Globex',
        owner: { team: 'crm' },
      });
      const idn = made.body as { id: string };
      await api('POST', '/v1/identities', { externalId: 'initech', owner: { team: 'billing' } });
      await page.goto('/#/keys');
      await page.getByRole('button', { name: 'Create key' }).click();
      const dialog = page.getByRole('dialog', { name: 'Create an API key' });
      await dialog.waitFor();
      await page.keyboard.type('crm-prod-globex-sync');
      await dialog.getByLabel('Owner team').fill('crm');
      await dialog.getByLabel('Owner contact').fill('crm@example.com');
      const picker = dialog.getByLabel('Identity', { exact: true });
      await picker.locator('option', { hasText: 'globex — Globex' }).waitFor({ state: 'attached' });
      const options = await picker.locator('option').allInnerTexts();
      assert.ok(
        !options.some((o) => o.includes('initech')),
        `another team's identity is offered: ${options.join(', ')}`,
      );
      await picker.selectOption(idn.id);
      await dialog.getByRole('button', { name: 'Create key' }).click();
      const done = page.getByText('It will not be shown again');
      await done.or(dialog.locator('p.error')).first().waitFor();
      assert.ok(await done.isVisible(), await dialog.innerText().catch(() => 'no dialog'));
      const keys = (await api('GET', `/v1/keys?identityId=${idn.id}`)).body as { items: { name: string }[] };
      assert.deepEqual(
        keys.items.map((k) => k.name),
        ['crm-prod-globex-sync'],
      );
      assert.deepEqual(problems, []);
    });
  },
);
