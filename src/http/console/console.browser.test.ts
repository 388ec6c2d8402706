import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
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
 * The web console in a real browser (Debian's Chromium via playwright-core) against a real
 * server on loopback: sign-in, the keys page, the one-time key dialog, and every action an
 * administrator takes by hand, each checked against what the HTTP API then answers.
 */
describe(
  'web console (Chromium)',
  { skip: haveChromium ? false : 'no Chromium (apt-get install chromium)' },
  () => {
    let t: TestServer;
    let base: string;
    let browser: Browser;
    let page: Page;
    let problems: string[];
    const secrets: string[] = [];
    const seeded: Record<string, { key: string; id: string }> = {};
    const sessionCookies: string[] = [];

    /** POST /v1/verify over HTTP, as a platform would. */
    async function verifyOverHttp(key: string, extra: Record<string, unknown> = {}): Promise<string> {
      const res = await fetch(`${base}/v1/verify`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.root}`, 'content-type': 'application/json' },
        body: JSON.stringify({ key, environment: 'production', ...extra }),
      });
      assert.equal(res.status, 200);
      return ((await res.json()) as { code: string }).code;
    }

    async function signIn(p: Page, adminKey: string): Promise<void> {
      await p.goto('/');
      await p.getByLabel('Admin key').fill(adminKey);
      const answered = p.waitForResponse(
        (r) => r.url().endsWith('/console/api/session') && r.request().method() === 'POST',
      );
      await p.getByRole('button', { name: 'Sign in' }).click();
      await answered;
      const cookie = (await p.context().cookies()).find((c) => c.name === 'kw_session');
      if (cookie !== undefined) sessionCookies.push(cookie.value);
    }

    /** The impact line of a confirmation, once the key's usage has been read. */
    async function impactOf(dialog: Locator): Promise<string> {
      const line = dialog.getByTestId('impact');
      await line.waitFor();
      return line.innerText();
    }

    async function noSeriousA11yViolations(name: string): Promise<void> {
      const v = await seriousViolations(page);
      assert.deepEqual(v, [], `axe on ${name}:\n${describeViolations(v)}`);
    }

    before(async () => {
      t = await startServer({ name: 'sqlite' });
      await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
      const addr = t.kw.app.server.address();
      assert.ok(addr !== null && typeof addr === 'object');
      base = `http://127.0.0.1:${addr.port}`;
      // A few keys of several teams and environments, so the pages show what they look like in use.
      for (const [name, env, team, perms] of [
        ['billing-prod-invoice-sync', 'production', 'billing', ['invoices:read', 'invoices:write']],
        ['support-stg-ticket-bot', 'staging', 'support', ['tickets:*']],
        ['ops-dev-nightly-report', 'development', 'ops', ['reports:read']],
      ] as const) {
        seeded[name] = await createKey(t, {
          name,
          environment: env,
          system: name.split('-')[0],
          owner: { team, contact: `${team}@example.com` },
          permissions: perms,
          ratelimits: [{ name: 'default', limit: 600, windowSeconds: 60 }],
        });
      }
      browser = await launch();
      ({ page, problems } = await openContext(browser, base));
    });

    after(async () => {
      await browser.close();
      // No plaintext key the tests used (the admin keys signed in with included) and no session
      // cookie may have reached the server's logs.
      const logs = t.logs();
      for (const s of [...secrets, t.root]) assert.ok(!logs.includes(s), 'a plaintext key reached the logs');
      for (const c of sessionCookies) assert.ok(!logs.includes(c), 'a session token reached the logs');
      await t.close();
    });

    test('a wrong admin key is refused with a message', async () => {
      await page.goto('/');
      await page.getByLabel('Admin key').waitFor();
      assert.equal(
        await page.evaluate<string>('document.activeElement?.id ?? ""'),
        'admin-key',
        'focused on load',
      );
      assert.equal(await page.title(), 'Sign in · Keywarden');
      await signIn(page, 'kw_adm_notarealkey');
      await page
        .getByRole('alert')
        .filter({ hasText: /admin key/ })
        .waitFor();
      assert.match(await page.getByRole('alert').innerText(), /not a Keywarden admin key/);
      assert.equal(await page.getByLabel('Admin key').inputValue(), '', 'the field forgets what was typed');
      await noSeriousA11yViolations('sign-in');
      await screenshot(page, 'sign-in');
    });

    test('sign in: the keys page lists keys; the admin key is not kept by the browser', async () => {
      await signIn(page, t.root);
      await page.getByRole('heading', { name: 'API Keys' }).waitFor();
      await page.getByRole('link', { name: 'billing-prod-invoice-sync' }).waitFor();
      const row = page.getByRole('row', { name: /billing-prod-invoice-sync/ });
      assert.match(
        await row.innerText(),
        /production[\s\S]*Active[\s\S]*invoices:read, invoices:write[\s\S]*600\/min[\s\S]*billing/,
      );
      // Browser-side code is passed as text: this file is compiled without the DOM's types.
      const stored = await page.evaluate<string>(
        'JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })',
      );
      assert.ok(!stored.includes(t.root), 'no admin key in web storage');
      const cookies = await page.context().cookies();
      const session = cookies.find((c) => c.name === 'kw_session');
      assert.ok(session?.httpOnly === true && session.sameSite === 'Strict');
      // Filters: environment and search.
      await page.getByLabel('Environment').selectOption('staging');
      await page.getByRole('link', { name: 'support-stg-ticket-bot' }).waitFor();
      await page.getByRole('link', { name: 'billing-prod-invoice-sync' }).waitFor({ state: 'detached' });
      await page.getByLabel('Environment').selectOption('');
      await page.getByLabel('Search by name').fill('nightly');
      await page.getByRole('link', { name: 'ops-dev-nightly-report' }).waitFor();
      await page.getByRole('link', { name: 'support-stg-ticket-bot' }).waitFor({ state: 'detached' });
      await page.getByLabel('Search by name').fill('');
      await page.getByRole('link', { name: 'support-stg-ticket-bot' }).waitFor();
    });

    let created: { key: string; name: string } | null = null;

    test('create → copy → close with the keyboard only; the key verifies VALID over the API', async () => {
      const name = 'crm-prod-agent-call';
      const tabTo = async (label: RegExp): Promise<void> => {
        for (let i = 0; i < 40; i++) {
          await page.keyboard.press('Tab');
          const focused = await page.evaluate<string>(`(() => {
          const el = document.activeElement;
          if (el === null) return '';
          const id = el.getAttribute('id');
          const lab = id === null ? null : document.querySelector('label[for="' + CSS.escape(id) + '"]');
          return (lab?.textContent ?? el.getAttribute('aria-label') ?? el.textContent ?? '').trim();
        })()`);
          if (label.test(focused)) return;
        }
        assert.fail(`Tab never reached ${label}`);
      };
      await page.getByRole('button', { name: 'Create key' }).focus();
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog', { name: 'Create an API key' });
      await dialog.waitFor();
      await noSeriousA11yViolations('create dialog');
      // The name field has the focus; a name that breaks the policy is explained before submitting.
      await page.keyboard.type('test');
      await dialog.getByText(/generic name/).waitFor();
      await page.keyboard.press('Control+A');
      await page.keyboard.type(name);
      await dialog.getByText(/generic name/).waitFor({ state: 'detached' });
      await tabTo(/^Owner team/);
      await page.keyboard.type('crm');
      await tabTo(/^Owner contact/);
      await page.keyboard.type('crm-oncall@example.com');
      await tabTo(/^Customer id/);
      await page.keyboard.type('cus_7');
      await tabTo(/^Permission$/);
      await page.keyboard.type('agents:invoke');
      await tabTo(/^Narrow to resource id/);
      await page.keyboard.type('agt_42');
      await page.keyboard.press('Enter');
      await dialog
        .getByRole('list', { name: 'Granted permissions' })
        .getByText('agents:invoke:agt_42')
        .waitFor();
      await tabTo(/^Add rate limit/);
      await page.keyboard.press('Enter');
      await screenshot(page, 'create-dialog');
      await tabTo(/^Create key$/);
      await page.keyboard.press('Enter');

      const done = page.getByRole('dialog', { name: `Key created: ${name}` });
      await done.getByText('It will not be shown again').waitFor();
      const masked = await done.getByTestId('secret').innerText();
      assert.match(masked, /^kw_prod_\w{4}•+\w{4}$/, 'masked by default');
      await screenshot(page, 'create-one-time-key');
      // Focus starts on Copy: Enter copies, and the clipboard holds the key.
      await page.keyboard.press('Enter');
      await done.getByText('Copied to the clipboard.').waitFor();
      await done.getByRole('button', { name: 'Copied ✓' }).waitFor();
      const copied = await page.evaluate<string>('navigator.clipboard.readText()');
      assert.match(copied, /^kw_prod_[0-9A-Za-z]{36}$/);
      secrets.push(copied);
      await done.getByRole('button', { name: 'Reveal' }).click();
      assert.equal(await done.getByTestId('secret').innerText(), copied, 'reveal shows the same key');
      await noSeriousA11yViolations('one-time key dialog');
      await page.keyboard.press('Escape');
      await done.waitFor({ state: 'detached' });
      assert.equal(
        await page.evaluate<string>('document.activeElement?.textContent ?? ""'),
        'Create key',
        'focus returns to the button that opened the dialog',
      );
      assert.ok(!(await page.content()).includes(copied), 'closing the dialog forgets the key');

      created = { key: copied, name };
      assert.equal(
        await verifyOverHttp(copied, { permission: 'agents:invoke', resource: 'agt_42' }),
        'VALID',
      );
      assert.equal(
        await verifyOverHttp(copied, { permission: 'agents:invoke', resource: 'agt_1' }),
        'INSUFFICIENT_PERMISSIONS',
      );
      // Usage is written in batches; after a flush the list shows when the key was last used.
      await t.kw.services.ctx.usage.flush();
      await page.reload();
      // Cells after the name: environment, status, permissions, rate limits, team, last used.
      const lastUsed = page
        .getByRole('row', { name: new RegExp(name) })
        .getByRole('cell')
        .nth(5);
      await lastUsed.getByText(/^(now|\d+ seconds? ago)$/).waitFor();
      await noSeriousA11yViolations('keys');
      await screenshot(page, 'keys');
      if (process.env.KEYWARDEN_UPDATE_DOCS_SCREENSHOT === '1') {
        mkdirSync('docs', { recursive: true });
        copyFileSync('test-artifacts/console/keys.png', 'docs/console-keys.png');
      }
    });

    test('disable and enable in the UI take effect on the API at once', async () => {
      assert.ok(created !== null);
      await page.getByRole('link', { name: created.name }).click();
      await page.getByRole('heading', { name: created.name, level: 1 }).waitFor();
      await page.getByRole('group', { name: 'Key actions' }).getByRole('button', { name: 'Disable' }).click();
      const dialog = page.getByRole('dialog', { name: `Disable ${created.name}` });
      // The confirmation states the key's live traffic before anything is refused.
      assert.match(
        await impactOf(dialog),
        /^A production key in use: Verified 1 time successfully since yesterday \(UTC\) \(1 refusal\) from 0 client IPs; last used (now|\d+ seconds? ago)\.$/,
      );
      await dialog.getByLabel('Reason (kept in the audit log)').fill('suspected leak in a CI log');
      await dialog.getByRole('button', { name: 'Disable key' }).click();
      await page.locator('.notice').getByText('suspected leak in a CI log').waitFor();
      assert.equal(await verifyOverHttp(created.key), 'DISABLED');

      await page.getByRole('group', { name: 'Key actions' }).getByRole('button', { name: 'Enable' }).click();
      const enable = page.getByRole('dialog', { name: `Enable ${created.name}` });
      await enable.getByRole('button', { name: 'Enable key' }).waitFor();
      assert.equal(await enable.getByLabel(/Reason/).count(), 0, 'no reason asked that would be thrown away');
      await enable.getByRole('button', { name: 'Enable key' }).click();
      await page
        .getByRole('group', { name: 'Key actions' })
        .getByRole('button', { name: 'Disable' })
        .waitFor();
      assert.equal(
        await verifyOverHttp(created.key, { permission: 'agents:invoke', resource: 'agt_42' }),
        'VALID',
      );
    });

    test('regenerate shows the new key once; the old one stops, the new one works', async () => {
      assert.ok(created !== null);
      await page
        .getByRole('group', { name: 'Key actions' })
        .getByRole('button', { name: 'Regenerate' })
        .click();
      const regen = page.getByRole('dialog', { name: `Regenerate ${created.name}` });
      // A production key keeps its old secret for a day unless told otherwise; no grace is warned about.
      assert.equal(await regen.getByLabel('The old secret keeps working for').inputValue(), '86400');
      assert.equal(await regen.getByText(/refused \(EXPIRED\) at once/).count(), 0);
      await regen.getByLabel('The old secret keeps working for').selectOption('0');
      await regen.getByText(/refused \(EXPIRED\) at once/).waitFor();
      await regen.getByRole('button', { name: 'Regenerate' }).click();
      const done = page.getByRole('dialog', { name: `New secret for ${created.name}` });
      await done.getByRole('button', { name: 'Reveal' }).click();
      const fresh = await done.getByTestId('secret').innerText();
      assert.match(fresh, /^kw_prod_[0-9A-Za-z]{36}$/);
      assert.notEqual(fresh, created.key);
      secrets.push(fresh);
      await done.getByRole('button', { name: 'Done, I stored the key' }).click();
      await done.waitFor({ state: 'detached' });
      assert.equal(await verifyOverHttp(created.key), 'EXPIRED', 'the old secret died with no grace period');
      assert.ok(!(await page.content()).includes(fresh), 'closing the dialog forgets the new key');
      assert.equal(await verifyOverHttp(fresh, { permission: 'agents:invoke', resource: 'agt_42' }), 'VALID');
      created = { ...created, key: fresh };
    });

    test('key detail: chart of verifications by outcome, recent verifications, audit trail', async () => {
      assert.ok(created !== null);
      await t.kw.services.ctx.usage.flush();
      await page.reload();
      await page.getByRole('heading', { name: created.name, level: 1 }).waitFor();
      await page.getByRole('img', { name: /Verifications per day over the last 30 days/ }).waitFor();
      const totals = page.getByRole('table', { name: 'Totals over 30 days' });
      assert.match(await totals.innerText(), /VALID\s+3/);
      assert.match(await totals.innerText(), /DISABLED\s+1/);
      const recent = page.getByRole('region', { name: 'Recent verifications' });
      assert.match(await recent.innerText(), /INSUFFICIENT_PERMISSIONS/);
      const trail = page.getByRole('region', { name: 'Audit trail' });
      for (const action of ['key.create', 'key.disable', 'key.enable', 'key.regenerate']) {
        assert.match(await trail.innerText(), new RegExp(action.replace('.', '\\.')));
      }
      await noSeriousA11yViolations('key detail');
      await screenshot(page, 'key-detail');
    });

    test('edit sends what changed; the API answers with the new configuration', async () => {
      assert.ok(created !== null);
      await page.getByRole('group', { name: 'Key actions' }).getByRole('button', { name: 'Edit' }).click();
      const dialog = page.getByRole('dialog', { name: `Edit ${created.name}` });
      await dialog.getByLabel('Limit 1: requests').fill('250');
      await dialog.getByLabel('Permission', { exact: true }).fill('agents:read');
      await dialog.getByRole('button', { name: 'Add permission' }).click();
      const sent = page.waitForRequest((r) => r.method() === 'PATCH');
      await dialog.getByRole('button', { name: 'Save changes' }).click();
      assert.deepEqual(
        (await sent).postDataJSON(),
        {
          permissions: ['agents:invoke:agt_42', 'agents:read'],
          ratelimits: [{ name: 'default', limit: 250, windowSeconds: 60 }],
        },
        'only the changed fields are sent',
      );
      await dialog.waitFor({ state: 'detached' });
      await page.getByText('default: 250/min').waitFor();
      await page
        .getByRole('status', { name: 'Notifications' })
        .getByText(`${created.name}: changes saved.`)
        .waitFor();
      const res = await fetch(`${base}/v1/keys?q=${created.name}`, {
        headers: { authorization: `Bearer ${t.root}` },
      });
      const k = (
        (await res.json()) as { items: { permissions: string[]; ratelimits: { limit: number }[] }[] }
      ).items[0];
      assert.deepEqual(k?.permissions, ['agents:invoke:agt_42', 'agents:read']);
      assert.equal(k?.ratelimits[0]?.limit, 250);
      // A change the policy refuses is explained, and nothing is saved.
      await page.getByRole('group', { name: 'Key actions' }).getByRole('button', { name: 'Edit' }).click();
      await dialog.getByLabel('Permission', { exact: true }).fill('*');
      await dialog.getByRole('button', { name: 'Add permission' }).click();
      await dialog.getByRole('button', { name: 'Save changes' }).click();
      await dialog
        .getByRole('alert')
        .filter({ hasText: /wildcard/ })
        .waitFor();
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      assert.equal(
        await verifyOverHttp(created.key, { permission: 'agents:delete' }),
        'INSUFFICIENT_PERMISSIONS',
      );
    });

    test('delete needs the name typed; the API then says DELETED', async () => {
      assert.ok(created !== null);
      await page.getByRole('group', { name: 'Key actions' }).getByRole('button', { name: 'Delete' }).click();
      const dialog = page.getByRole('dialog', { name: `Delete ${created.name}` });
      const confirm = dialog.getByRole('button', { name: 'Delete key' });
      assert.equal(await confirm.isDisabled(), true);
      await dialog.getByLabel(/Type .* to confirm/).fill('crm-prod-agent');
      assert.equal(await confirm.isDisabled(), true, 'a partial name does not confirm');
      await dialog.getByLabel(/Type .* to confirm/).fill(created.name);
      await confirm.click();
      await page.getByText('Deleted', { exact: true }).first().waitFor();
      await page.getByText(/This key was deleted .* by root\./).waitFor();
      assert.equal(await verifyOverHttp(created.key), 'DELETED');
    });

    test('keys list: deleted hidden by default, Expires highlighted, sortable, filters kept in the URL', async () => {
      assert.ok(created !== null);
      const soon = await createKey(t, {
        name: 'search-stg-index-sync',
        environment: 'staging',
        system: 'search',
        owner: { team: 'search', contact: 'search@example.com' },
        permissions: ['index:write'],
        expiresAt: new Date(Date.now() + 10 * 86_400_000).toISOString(),
      });
      assert.ok(soon.id !== '');
      await page.goto('/#/keys');
      await page.getByRole('link', { name: 'search-stg-index-sync' }).waitFor();
      // The deleted key from the previous test is not in the default list, but is one choice away.
      assert.equal(await page.getByRole('link', { name: created.name }).count(), 0);
      await page.getByText(/\d+ keys \(deleted keys hidden\)/).waitFor();
      await page.getByLabel('Status').selectOption('all');
      await page.getByRole('link', { name: created.name }).waitFor();
      await page.getByLabel('Status').selectOption('');
      // Expiry in the rotation window (30 days by default) is highlighted; none says "never".
      const expires = page
        .getByRole('row', { name: /search-stg-index-sync/ })
        .getByRole('cell')
        .nth(6);
      assert.equal(await expires.getAttribute('class'), 'expiring');
      assert.match(await expires.innerText(), /^in (9|10) days$/);
      const later = page
        .getByRole('row', { name: /billing-prod-invoice-sync/ })
        .getByRole('cell')
        .nth(6);
      assert.equal(await later.getAttribute('class'), null, 'an expiry months away is not highlighted');
      // Sorting by name, both ways, with the sort state announced on the header.
      await page.getByRole('button', { name: 'Name' }).click();
      const names = async (): Promise<string[]> =>
        (await page.getByRole('rowheader').allInnerTexts()).map((n) => n.split('\n')[0] ?? '');
      const asc = await names();
      assert.deepEqual(asc, [...asc].sort());
      await page.getByRole('button', { name: 'Name' }).click();
      assert.deepEqual(await names(), [...asc].reverse());
      assert.equal(
        await page.getByRole('columnheader', { name: 'Name' }).getAttribute('aria-sort'),
        'descending',
      );
      // Filters live in the URL: back from a key returns to the same filtered list.
      await page.getByLabel('Environment').selectOption('staging');
      await page.getByRole('link', { name: 'billing-prod-invoice-sync' }).waitFor({ state: 'detached' });
      assert.match(page.url(), /#\/keys\?environment=staging$/);
      await page.getByRole('link', { name: 'search-stg-index-sync' }).click();
      await page.getByRole('heading', { name: 'search-stg-index-sync', level: 1 }).waitFor();
      await page.goBack();
      await page.getByRole('link', { name: 'support-stg-ticket-bot' }).waitFor();
      assert.equal(await page.getByLabel('Environment').inputValue(), 'staging');
      assert.equal(await page.getByRole('link', { name: 'billing-prod-invoice-sync' }).count(), 0);
      assert.equal(await page.getByRole('navigation', { name: 'Pages' }).count(), 0, 'no pager for one page');
      await page.getByRole('button', { name: 'Clear filters' }).click();
      await page.getByRole('link', { name: 'billing-prod-invoice-sync' }).waitFor();
      assert.match(page.url(), /#\/keys$/);
    });

    test('audit entries show what changed; the log shows absolute times to the second', async () => {
      await page.goto('/#/audit');
      const disabled = page.getByRole('row', { name: /key\.disable/ }).first();
      await disabled.getByText('status: "active" → "disabled"').waitFor();
      await disabled.getByText('disabledReason: null → "suspected leak in a CI log"').waitFor();
      await disabled.getByRole('button', { name: 'Full record' }).click();
      await disabled.getByText('Before', { exact: true }).waitFor();
      await page.goto('/#/logs');
      const firstTime = page.getByRole('row').nth(1).locator('time').first();
      assert.match(await firstTime.innerText(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    });

    test('an API error is shown in plain words', async () => {
      await page.goto('/#/keys/key_doesnotexist');
      const alert = page.getByRole('alert');
      await alert.waitFor();
      assert.match(await alert.innerText(), /key_doesnotexist/);
    });

    test('governance, logs, audit, admin keys and policy pages render without serious accessibility issues', async () => {
      for (const [route, heading] of [
        ['governance', 'Governance'],
        ['logs', 'Verification log'],
        ['audit', 'Audit log'],
        ['admin-keys', 'Admin keys'],
        ['policy', 'Policy'],
      ] as const) {
        await page.goto(`/#/${route}`);
        await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
        await page
          .getByText(/^Loading/)
          .first()
          .waitFor({ state: 'detached' });
        await noSeriousA11yViolations(route);
        await screenshot(page, route);
      }
      await page.goto('/#/audit');
      await page.getByText(/Chain intact: \d+ entries verified/).waitFor();
    });

    test('governance remedies: apply the suggested narrower permissions; disable a stale key', async () => {
      const bot = seeded['support-stg-ticket-bot'];
      const ops = seeded['ops-dev-nightly-report'];
      assert.ok(bot !== undefined && ops !== undefined);
      // The bot holds tickets:* but only ever reads: the report suggests tickets:read.
      assert.equal(
        await verifyOverHttp(bot.key, { environment: 'staging', permission: 'tickets:read' }),
        'VALID',
      );
      await t.kw.services.ctx.usage.flush();
      // The nightly report key was never used and is 200 days old: stale.
      await t.kw.storage.db
        .updateTable('keys')
        .set({ created_at: new Date(Date.now() - 200 * 86_400_000).toISOString() })
        .where('id', '=', ops.id)
        .execute();
      await page.goto('/#/governance');
      const key = async (id: string): Promise<{ status: string; permissions: string[] }> => {
        const res = await fetch(`${base}/v1/keys/${id}`, { headers: { authorization: `Bearer ${t.root}` } });
        return (await res.json()) as { status: string; permissions: string[] };
      };
      const over = page.getByRole('region', { name: /^Over-privileged/ });
      const apply = over.getByRole('button', {
        name: 'Apply suggested permissions to support-stg-ticket-bot',
      });
      // A remedy is never one click: the confirmation says what it changes and the key's live traffic.
      await apply.click();
      const narrow = page.getByRole('dialog', { name: 'Narrow support-stg-ticket-bot?' });
      await narrow.getByText(/keeps only tickets:read instead of tickets:\*/).waitFor();
      assert.match(
        await impactOf(narrow),
        /Verified 1 time successfully since yesterday \(UTC\) from 0 client IPs/,
      );
      await noSeriousA11yViolations('governance confirmation');
      await narrow.getByRole('button', { name: 'Cancel' }).click();
      assert.deepEqual((await key(bot.id)).permissions, ['tickets:*'], 'cancel changes nothing');
      await apply.click();
      await narrow.getByRole('button', { name: 'Apply permissions' }).click();
      // The row changes in place (no reload, no jump to the top) and a toast says what happened.
      const toasts = page.getByRole('status', { name: 'Notifications' });
      await toasts.getByText('support-stg-ticket-bot now has tickets:read.').waitFor();
      await over
        .getByRole('row', { name: /support-stg-ticket-bot/ })
        .getByText('Now tickets:read')
        .waitFor();
      assert.deepEqual((await key(bot.id)).permissions, ['tickets:read']);
      // Undo puts the previous permissions back.
      await toasts.getByRole('button', { name: 'Undo' }).click();
      await toasts.getByText('Undone.').waitFor();
      assert.deepEqual((await key(bot.id)).permissions, ['tickets:*']);
      await apply.waitFor();

      // Narrow safely: a shadow period for the suggested set, prefilled; nothing changes for callers.
      await over.getByRole('button', { name: 'Narrow support-stg-ticket-bot safely' }).click();
      const shadow = page.getByRole('dialog', { name: 'Narrow support-stg-ticket-bot safely?' });
      assert.equal(await shadow.getByLabel('Narrower permissions').inputValue(), 'tickets:read');
      await shadow.getByLabel('Days').fill('7');
      await noSeriousA11yViolations('narrow safely dialog');
      await shadow.getByRole('button', { name: 'Start shadow period' }).click();
      await over
        .getByRole('row', { name: /support-stg-ticket-bot/ })
        .getByText(/Shadow period until/)
        .waitFor();
      const started = await fetch(`${base}/v1/keys/${bot.id}/narrowing`, {
        headers: { authorization: `Bearer ${t.root}` },
      });
      const n = (await started.json()) as { state: string; permissions: string[]; endsAt: string };
      assert.deepEqual([n.state, n.permissions], ['shadow', ['tickets:read']]);
      assert.deepEqual((await key(bot.id)).permissions, ['tickets:*'], 'the key keeps its permissions');

      const stale = page.getByRole('region', { name: /^Stale/ });
      await stale.getByRole('button', { name: 'Disable ops-dev-nightly-report' }).click();
      const confirm = page.getByRole('dialog', { name: 'Disable ops-dev-nightly-report?' });
      assert.match(
        await impactOf(confirm),
        /^Verified 0 times successfully .* from 0 client IPs; last used never\.$/,
      );
      await confirm.getByRole('button', { name: 'Disable key' }).click();
      await toasts.getByText('ops-dev-nightly-report disabled.').waitFor();
      await stale
        .getByRole('row', { name: /ops-dev-nightly-report/ })
        .getByText('Disabled')
        .waitFor();
      assert.equal((await key(ops.id)).status, 'disabled');
      assert.equal(await verifyOverHttp(ops.key, { environment: 'development' }), 'DISABLED');
    });

    test('policy and admin keys pages change what the API answers', async () => {
      await page.goto('/#/policy');
      await page.getByLabel('Stale after (days unused)').fill('45');
      await page.getByRole('button', { name: 'Save policy' }).click();
      await page.getByText(/^Policy saved/).waitFor();
      const pol = await fetch(`${base}/v1/policy`, { headers: { authorization: `Bearer ${t.root}` } });
      assert.equal(((await pol.json()) as { staleAfterDays: number }).staleAfterDays, 45);
      await page.getByLabel('Name pattern (regular expression)').fill('([');
      await page.getByRole('button', { name: 'Save policy' }).click();
      await page
        .getByRole('alert')
        .filter({ hasText: /not a valid RE2 regular expression/ })
        .waitFor();

      await page.goto('/#/admin-keys');
      await page.getByRole('button', { name: 'Create admin key' }).click();
      const dialog = page.getByRole('dialog', { name: 'Create an admin key' });
      await dialog.getByLabel('Name').fill('gateway-prod-verifier');
      await dialog.getByLabel('keys:read').uncheck();
      await dialog.getByLabel('keys:verify').check();
      await dialog.getByRole('button', { name: 'Create admin key' }).click();
      const done = page.getByRole('dialog', { name: 'Admin key created: gateway-prod-verifier' });
      // Closing before the key was copied or revealed asks first: it cannot be shown again.
      // (Escape only once the dialog is open: pressed earlier, it would close the create form.)
      await done.waitFor();
      await page.keyboard.press('Escape');
      await done.getByText('You have not copied or revealed this key.').waitFor();
      await done.getByRole('button', { name: 'Back to the key' }).click();
      await done.getByRole('button', { name: 'Reveal' }).click();
      await done.getByText('You have not copied or revealed this key.').waitFor({ state: 'detached' });
      const adminKey = await done.getByTestId('secret').innerText();
      assert.match(adminKey, /^kw_adm_[0-9A-Za-z]{36}$/);
      secrets.push(adminKey);
      await done.getByRole('button', { name: 'Done, I stored the key' }).click();
      await page.getByRole('rowheader', { name: /gateway-prod-verifier/ }).waitFor();
      // The new admin key can verify, and nothing else.
      const asVerifier = await fetch(`${base}/v1/verify`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ key: 'kw_prod_x', environment: 'production' }),
      });
      assert.equal(asVerifier.status, 200);
      const list = await fetch(`${base}/v1/keys`, { headers: { authorization: `Bearer ${adminKey}` } });
      assert.equal(list.status, 403);
      const verifierStatus = async (): Promise<number> =>
        (
          await fetch(`${base}/v1/verify`, {
            method: 'POST',
            headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
            body: JSON.stringify({ key: 'kw_prod_x', environment: 'production' }),
          })
        ).status;

      // The key this session uses is marked, and as the last active root key it offers no way out.
      const rootRow = page.getByRole('row', { name: /^root/ });
      await rootRow.getByText('you', { exact: true }).waitFor();
      await rootRow.getByText('Last active root key: kept').waitFor();
      assert.equal(await rootRow.getByRole('button').count(), 0);

      // Disable asks first and says what breaks; the row changes in place; Undo enables it again.
      const row = page.getByRole('row', { name: /gateway-prod-verifier/ });
      await row.getByRole('button', { name: 'Disable gateway-prod-verifier' }).click();
      const confirm = page.getByRole('dialog', { name: 'Disable gateway-prod-verifier?' });
      await confirm.getByText(/services that verify keys with it will get 401/).waitFor();
      await noSeriousA11yViolations('admin key confirmation');
      await confirm.getByRole('button', { name: 'Disable admin key' }).click();
      await row.getByText('Inactive').waitFor();
      assert.equal(await verifierStatus(), 401);
      const toasts = page.getByRole('status', { name: 'Notifications' });
      await toasts
        .locator('.toast', { hasText: 'gateway-prod-verifier disabled.' })
        .getByRole('button', { name: 'Undo' })
        .click();
      await row.getByText('Active', { exact: true }).waitFor();
      assert.equal(await verifierStatus(), 200);

      // Deleting an admin key needs its name typed, as for API keys.
      await row.getByRole('button', { name: 'Delete gateway-prod-verifier' }).click();
      const del = page.getByRole('dialog', { name: 'Delete gateway-prod-verifier?' });
      const go = del.getByRole('button', { name: 'Delete admin key' });
      await del.getByLabel(/Type .* to confirm/).fill('gateway-prod');
      assert.equal(await go.isDisabled(), true, 'a partial name does not confirm');
      await del.getByLabel(/Type .* to confirm/).fill('gateway-prod-verifier');
      await go.click();
      await row.getByText('Deleted').waitFor();
      assert.equal(await verifierStatus(), 401);
    });

    test("a team-scoped admin key sees only its team's keys", async () => {
      const res = await fetch(`${base}/v1/admin-keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.root}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'billing-console',
          permissions: ['keys:read', 'keys:write'],
          team: 'billing',
        }),
      });
      const { key } = (await res.json()) as { key: string };
      secrets.push(key);
      const other = await openContext(browser, base);
      try {
        await signIn(other.page, key);
        await other.page.getByRole('link', { name: 'billing-prod-invoice-sync' }).waitFor();
        const names = await other.page.getByRole('rowheader').allInnerTexts();
        assert.ok(names.length >= 1);
        assert.ok(
          names.every((n) => n.startsWith('billing-')),
          names.join(', '),
        );
        assert.equal(
          await other.page.getByRole('link', { name: 'Admin keys' }).count(),
          0,
          'no admin-keys page without admin:manage',
        );
        assert.deepEqual(other.problems, []);
      } finally {
        await other.context.close();
      }
    });

    test('phone (390×844): no page scrolls sideways, navigation in a menu, dialogs fill the screen', async () => {
      const context = await browser.newContext({ baseURL: base, viewport: { width: 390, height: 844 } });
      try {
        const phone = await context.newPage();
        const errors: string[] = [];
        phone.on('pageerror', (e) => errors.push(e.message));
        await signIn(phone, t.root);
        await phone.getByRole('heading', { name: 'API Keys' }).waitFor();
        const nav = phone.getByRole('navigation', { name: 'Main' });
        assert.equal(await nav.isVisible(), false, 'the navigation is folded into a menu');
        const menu = phone.getByRole('button', { name: 'Menu' });
        for (const [route, heading] of [
          ['keys', 'API Keys'],
          ['governance', 'Governance'],
          ['logs', 'Verification log'],
          ['audit', 'Audit log'],
          ['admin-keys', 'Admin keys'],
          ['policy', 'Policy'],
        ] as const) {
          // Every page is reachable through the menu, which closes again after the choice.
          await menu.click();
          assert.equal(await menu.getAttribute('aria-expanded'), 'true');
          await nav.getByRole('link', { name: heading }).click();
          await phone.getByRole('heading', { name: heading, level: 1 }).waitFor();
          await phone
            .getByText(/^Loading/)
            .first()
            .waitFor({ state: 'detached' });
          assert.equal(await nav.isVisible(), false);
          assert.equal(await phone.title(), `${heading} · Keywarden`);
          const width = await phone.evaluate<number>('document.documentElement.scrollWidth');
          assert.ok(width <= 390, `${route} is ${width}px wide at a 390px viewport`);
          const v = await seriousViolations(phone);
          assert.deepEqual(v, [], `axe on ${route} (phone):\n${describeViolations(v)}`);
          if (route === 'keys') await screenshot(phone, 'phone-keys');
        }
        await phone.goto(`/#/keys/${seeded['billing-prod-invoice-sync']?.id ?? ''}`);
        await phone.getByRole('heading', { name: 'billing-prod-invoice-sync', level: 1 }).waitFor();
        assert.ok((await phone.evaluate<number>('document.documentElement.scrollWidth')) <= 390);
        await phone.getByRole('group', { name: 'Key actions' }).getByRole('button', { name: 'Edit' }).click();
        const box = await phone.getByRole('dialog').boundingBox();
        assert.ok(box !== null && box.x === 0 && box.width === 390, `dialog at ${JSON.stringify(box)}`);
        await screenshot(phone, 'phone-dialog');
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    test('sign-out ends the session: the old cookie is refused', async () => {
      await page.goto('/#/keys');
      await page.getByRole('heading', { name: 'API Keys' }).waitFor();
      const cookie = (await page.context().cookies()).find((c) => c.name === 'kw_session');
      assert.ok(cookie !== undefined);
      const before = await fetch(`${base}/v1/keys`, { headers: { cookie: `kw_session=${cookie.value}` } });
      assert.equal(before.status, 200);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'Sign in to Keywarden' }).waitFor();
      const afterOut = await fetch(`${base}/v1/keys`, { headers: { cookie: `kw_session=${cookie.value}` } });
      assert.equal(afterOut.status, 401);
      assert.match(((await afterOut.json()) as { detail: string }).detail, /session has ended/);
      assert.deepEqual(problems, [], 'no page errors, console errors or CSP violations');
    });
  },
);
