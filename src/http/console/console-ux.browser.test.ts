import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import {
  describeViolations,
  haveChromium,
  launch,
  openContext,
  screenshot,
  seriousViolations,
  signIn,
} from '../../testing/browser.js';
import { createKey, startServer, type TestServer } from '../../testing/harness.js';

/** The toast shows just below the control its action started from (not in a corner of the page). */
async function besideTheAction(control: Locator, toasts: Locator): Promise<void> {
  const c = await control.boundingBox();
  const t = await toasts.boundingBox();
  assert.ok(c !== null && t !== null, 'both are on screen');
  assert.ok(
    t.y >= c.y && t.y - (c.y + c.height) <= 40 && Math.abs(t.x - c.x) <= 460,
    `toast at ${JSON.stringify(t)}, control at ${JSON.stringify(c)}`,
  );
}

/**
 * The console as an admin team uses it (issue 21): names instead of ids, governance grouped by
 * team, lists with choices, a policy preview before saving, the team lock, the smaller points,
 * axe at both viewports, and a server that goes away mid-session. One server, one browser.
 */
describe(
  'web console, names, governance, preview and offline (Chromium)',
  { skip: haveChromium ? false : 'no Chromium (apt-get install chromium)' },
  () => {
    let t: TestServer;
    let base: string;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    let problems: string[];
    let rootId: string;
    const k: Record<string, { key: string; id: string }> = {};

    async function api(
      method: string,
      path: string,
      body?: unknown,
      key = t.root,
    ): Promise<{ status: number; body: unknown }> {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
    }

    async function settled(): Promise<void> {
      await page
        .getByText(/^Loading/)
        .first()
        .waitFor({ state: 'detached' });
    }

    before(async () => {
      t = await startServer({ name: 'sqlite' });
      await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
      const addr = t.kw.app.server.address();
      assert.ok(addr !== null && typeof addr === 'object');
      base = `http://127.0.0.1:${addr.port}`;
      const soon = new Date(Date.now() + 60 * 86_400_000).toISOString();
      for (const [name, env, team, perms] of [
        ['pay-prod-ledger-sync', 'production', 'pay', ['ledger:read']],
        ['pay-stg-wild-sync', 'staging', 'pay', ['ledger:*']],
        ['search-prod-index-one', 'production', 'search', ['index:write']],
        ['search-prod-index-two', 'production', 'search', ['index:write']],
        ['search-stg-index-three', 'staging', 'search', ['index:write']],
        ['search-dev-index-old', 'development', 'search', ['index:write']],
        ['ops-prod-never-used', 'production', 'ops', ['ops:read']],
      ] as const) {
        k[name] = await createKey(t, {
          name,
          environment: env,
          system: team,
          owner: { team, contact: `${team}@example.com` },
          permissions: perms,
          expiresAt: env === 'production' ? soon : undefined,
        });
      }
      // Teams pay and ops answer for their keys; search has no admin key.
      for (const team of ['pay', 'ops'])
        assert.equal(
          (await api('POST', '/v1/admin-keys', { name: `${team}-admin`, permissions: ['keys:read'], team }))
            .status,
          201,
        );
      // A handled finding: search's old key is disabled already.
      await api('POST', `/v1/keys/${k['search-dev-index-old']?.id ?? ''}/disable`, { reason: 'retired' });
      // Traffic: the ledger key from two clients; a staging key once against production; refusals only for ops.
      const ledger = k['pay-prod-ledger-sync']?.key ?? '';
      for (const [ip, ua] of [
        ['10.0.0.1', 'ledger-worker/1.0'],
        ['10.0.0.2', 'ledger-worker/1.1'],
      ])
        await api('POST', '/v1/verify', {
          key: ledger,
          environment: 'production',
          permission: 'ledger:read',
          ip,
          userAgent: ua,
        });
      await api('POST', '/v1/verify', { key: k['search-stg-index-three']?.key, environment: 'production' });
      await api('POST', '/v1/verify', {
        key: k['ops-prod-never-used']?.key,
        environment: 'production',
        permission: 'ops:write',
      });
      await t.kw.services.ctx.usage.flush();
      browser = await launch();
      ({ context, page, problems } = await openContext(browser, base));
      await signIn(page, t.root);
      const me = await page.evaluate<string>(
        'fetch("/console/api/session").then(r => r.json()).then(s => s.adminKey.id)',
      );
      rootId = me;
    });

    after(async () => {
      await browser.close();
      await t.close();
    });

    test('names, not ids: the log and audit show names; keys are picked by name; a name no key has says so', async () => {
      const ledger = k['pay-prod-ledger-sync'];
      assert.ok(ledger !== undefined);
      await page.goto('/#/logs');
      const link = page.getByRole('link', { name: 'pay-prod-ledger-sync' }).first();
      await link.waitFor();
      assert.match((await link.getAttribute('title')) ?? '', new RegExp(`^${ledger.id}`), 'the id on hover');
      // Pick by name: suggestions come as you type; the full name filters the log.
      const field = page.getByRole('search', { name: 'Filter verifications' }).getByLabel('Key');
      await field.fill('pay-prod-led');
      const option = page.locator(`datalist option[value="pay-prod-ledger-sync"]`);
      await option.waitFor({ state: 'attached' });
      await field.fill('pay-prod-ledger-sync');
      await page.getByRole('link', { name: 'pay-prod-ledger-sync' }).first().waitFor();
      assert.equal(await page.getByRole('link', { name: 'ops-prod-never-used' }).count(), 0);
      await field.fill('nobody-prod-here');
      await page.getByText('No key is named “nobody-prod-here”.').waitFor();
      assert.equal(await page.getByText(/No verifications recorded yet/).count(), 0);
      await page.getByRole('button', { name: 'Clear filters' }).click();
      await page.getByRole('link', { name: 'ops-prod-never-used' }).first().waitFor();

      await page.goto('/#/audit');
      const audit = page.getByRole('search', { name: 'Filter audit entries' });
      await audit.getByLabel('Actor').fill('root');
      const row = page.getByRole('row', { name: /key\.disable/ }).first();
      await row.waitFor();
      const actor = row.getByRole('cell').nth(3).locator('span');
      assert.equal(await actor.innerText(), 'root');
      assert.equal(await actor.getAttribute('title'), rootId);
      await audit.getByLabel('Actor').fill('nobody');
      await page.getByText('No admin key is named “nobody”.', { exact: false }).waitFor();
      await audit.getByLabel('Actor').fill('');
      await audit.getByLabel('Target').fill('search-dev-index-old');
      await page
        .getByRole('row', { name: /key\.disable/ })
        .first()
        .waitFor();
      assert.equal(await page.getByRole('row', { name: /key\.create/ }).count(), 1, 'only that key');

      await page.goto(`/#/keys/${ledger.id}`);
      const created = page.getByText(/by root/).first();
      await created.waitFor();
      assert.equal(
        await page.locator('dd span[title]').filter({ hasText: 'root' }).first().getAttribute('title'),
        rootId,
      );
      assert.deepEqual(problems, []);
    });

    test('governance: findings by team with one action per cause, collapsible counts, handled keys greyed, human words', async () => {
      await page.goto('/#/governance');
      const unowned = page.getByRole('region', { name: /^Unowned/ });
      const search = unowned.getByRole('region', { name: 'Unowned: Team search' });
      await search.waitFor();
      // One cause, one action, instead of a row per key.
      await search.getByText('3 keys: team search has no active admin key to answer for them.').waitFor();
      assert.equal(await page.getByRole('link', { name: 'Create an admin key for team search' }).count(), 1);
      // The disabled key is greyed, marked, and offered nothing.
      const old = page.getByRole('row', { name: /search-dev-index-old/ }).first();
      assert.equal(await old.getAttribute('class'), 'handled');
      await old.getByText('Inactive').waitFor();
      assert.equal(await old.getByRole('button').count(), 0);
      // Plurals and times in words.
      const test = page.getByRole('region', { name: /^Test keys used against production/ });
      const reason = await test.getByRole('row', { name: /search-stg-index-three/ }).innerText();
      assert.match(
        reason,
        /presented to a production verifier 1 time \(last \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)/,
      );
      // Sections fold, with their count in the heading.
      const folding = page.locator('#sec-testKeysInProduction');
      assert.equal(await folding.evaluate((d) => (d as unknown as { open: boolean }).open), true);
      await page.locator('#sec-testKeysInProduction > summary').click();
      assert.equal(await folding.evaluate((d) => (d as unknown as { open: boolean }).open), false);
      await page.keyboard.press('Enter');
      assert.equal(
        await folding.evaluate((d) => (d as unknown as { open: boolean }).open),
        true,
        'Enter opens it again',
      );
      await screenshot(page, 'governance-grouped');
      // The action: the admin-key form for that team.
      await page.getByRole('link', { name: 'Create an admin key for team search' }).click();
      const dialog = page.getByRole('dialog', { name: 'Create an admin key' });
      await dialog.waitFor();
      assert.equal(await dialog.getByLabel('Limit to owner team (optional)').inputValue(), 'search');
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      assert.deepEqual(problems, []);
    });

    test('lists: team is a choice list, the count and filters are in the page and the URL', async () => {
      await page.goto('/#/keys');
      const team = page.getByLabel('Owner team');
      await page.locator('#main select option[value="search"]').waitFor({ state: 'attached' });
      assert.deepEqual(await team.locator('option').allInnerTexts(), ['Any', 'ops', 'pay', 'search']);
      await team.selectOption('pay');
      await page.getByRole('link', { name: 'search-prod-index-one' }).waitFor({ state: 'detached' });
      assert.match(page.url(), /#\/keys\?team=pay$/);
      await page.getByTestId('key-count').getByText('2 keys (deleted keys hidden)').waitFor();
      await page.getByRole('link', { name: 'pay-stg-wild-sync' }).click();
      await page.getByRole('heading', { name: 'pay-stg-wild-sync', level: 1 }).waitFor();
      await page.goBack();
      await page.getByRole('link', { name: 'pay-prod-ledger-sync' }).waitFor();
      assert.equal(await team.inputValue(), 'pay');
      await page.getByRole('button', { name: 'Clear filters' }).click();
      await page.getByRole('link', { name: 'search-prod-index-one' }).waitFor();
    });

    test('feedback: the policy page previews which keys would stop complying before it saves; toasts for key actions', async () => {
      await page.goto('/#/policy');
      const wild = page.locator('#pol-staging-wild');
      await wild.waitFor();
      await wild.uncheck();
      await page.getByRole('button', { name: 'Save policy' }).click();
      const dialog = page.getByRole('dialog', { name: 'Save the policy?' });
      await dialog.waitFor();
      const text = await dialog.innerText();
      assert.match(text, /1 existing key of \d+ would stop complying/);
      const rule = dialog.getByRole('region', { name: 'Rule allowWildcards' });
      await rule.getByRole('link', { name: 'pay-stg-wild-sync' }).waitFor();
      assert.match(await rule.innerText(), /wildcard permission "ledger:\*" is not allowed for staging keys/);
      const v = await seriousViolations(page);
      assert.deepEqual(v, [], describeViolations(v));
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      const unchanged = (await api('GET', '/v1/policy')).body as {
        environments: { staging: { allowWildcards: boolean } };
      };
      assert.equal(unchanged.environments.staging.allowWildcards, true, 'the preview changed nothing');
      await page.getByRole('button', { name: 'Save policy' }).click();
      await dialog.getByRole('button', { name: 'Save policy anyway' }).click();
      const toasts = page.getByRole('status', { name: 'Notifications' });
      await toasts.getByText('Policy saved. 1 existing key no longer complies: see Governance.').waitFor();
      await besideTheAction(page.getByRole('button', { name: 'Save policy' }), toasts);
      const saved = (await api('GET', '/v1/policy')).body as {
        environments: { staging: { allowWildcards: boolean } };
      };
      assert.equal(saved.environments.staging.allowWildcards, false);
      assert.equal((await api('PUT', '/v1/policy', {})).status, 200);

      // Disable and delete on a key page answer with a toast, like edit.
      const ops = k['ops-prod-never-used'];
      assert.ok(ops !== undefined);
      await page.goto(`/#/keys/${ops.id}`);
      const actions = page.getByRole('group', { name: 'Key actions' });
      await actions.getByRole('button', { name: 'Disable' }).click();
      const disable = page.getByRole('dialog', { name: 'Disable ops-prod-never-used' });
      await disable.getByRole('button', { name: 'Disable key' }).click();
      await toasts.getByText('ops-prod-never-used disabled.').waitFor();
      // Beside the action: below the key's action buttons, not in a corner of a long page.
      await besideTheAction(actions, toasts);
      await toasts
        .locator('.toast', { hasText: 'ops-prod-never-used disabled.' })
        .getByRole('button', { name: 'Undo' })
        .click();
      await toasts.getByText('Undone.').waitFor();
      assert.deepEqual(problems, []);
    });

    test('key page: clients, user agents and permissions used; "never" explained beside refusals', async () => {
      const ledger = k['pay-prod-ledger-sync'];
      const ops = k['ops-prod-never-used'];
      assert.ok(ledger !== undefined && ops !== undefined);
      await page.goto(`/#/keys/${ledger.id}`);
      const ips = page.getByRole('region', { name: 'Client IPs' });
      await ips.getByText('10.0.0.1').waitFor();
      await ips.getByText('10.0.0.2').waitFor();
      await page.getByRole('region', { name: 'User agents' }).getByText('ledger-worker/1.1').waitFor();
      await page.getByRole('region', { name: 'Permissions used' }).getByText('ledger:read').waitFor();
      await page.goto(`/#/keys/${ops.id}`);
      const never = page.getByTestId('never-used');
      await never.getByText(/1 refused attempt/).waitFor();
      assert.match(
        await never.innerText(),
        /^never: no call with this key has been accepted yet \(1 refused attempt in the last 30 days/,
      );
      // The skip link is the first stop of the keyboard and moves focus to the content.
      await page.reload();
      await page.getByRole('heading', { name: 'ops-prod-never-used', level: 1 }).waitFor();
      await page.keyboard.press('Tab');
      const skip = page.getByRole('link', { name: 'Skip to content' });
      assert.equal(
        await skip.evaluate((el) => {
          const doc = (el as { ownerDocument: { activeElement: unknown } }).ownerDocument;
          return el === doc.activeElement;
        }),
        true,
      );
      await page.keyboard.press('Enter');
      assert.equal(await page.evaluate<string>('document.activeElement?.id ?? ""'), 'main');
    });

    test('a team-scoped admin: the create form locks its team; pages it may not use are refused by URL too', async () => {
      const r = await api('POST', '/v1/admin-keys', {
        name: 'pay-console',
        permissions: ['keys:read', 'keys:write'],
        team: 'pay',
      });
      const other = await openContext(browser, base);
      try {
        await signIn(other.page, (r.body as { key: string }).key);
        await other.page.getByRole('button', { name: 'Create key' }).click();
        const dialog = other.page.getByRole('dialog', { name: 'Create an API key' });
        const team = dialog.getByLabel('Owner team');
        assert.equal(await team.inputValue(), 'pay');
        assert.equal(await team.getAttribute('readonly'), '');
        await dialog.getByText('your admin key manages team pay only').waitFor();
        await team.press('x');
        assert.equal(await team.inputValue(), 'pay', 'typing does not change it');
        await dialog.getByRole('button', { name: 'Cancel' }).click();
        await other.page.goto('/#/admin-keys');
        await other.page.getByText(/This page needs the admin permission admin:manage/).waitFor();
        assert.equal(await other.page.getByRole('button', { name: 'Create admin key' }).count(), 0);
        assert.equal(await other.page.title(), 'Not available · Keywarden');
        await other.page.goto('/#/audit');
        await other.page.getByText(/needs the admin permission audit:read/).waitFor();
        assert.deepEqual(other.problems, []);
      } finally {
        await other.context.close();
      }
    });

    test('every main page is axe-clean and fits at 1440×900 and 390×844', async () => {
      for (const [route, heading] of [
        ['keys', 'API Keys'],
        [`keys/${k['pay-prod-ledger-sync']?.id ?? ''}`, 'pay-prod-ledger-sync'],
        ['governance', 'Governance'],
        ['logs', 'Verification log'],
        ['audit', 'Audit log'],
        ['admin-keys', 'Admin keys'],
        ['deliveries', 'Deliveries'],
        ['policy', 'Policy'],
      ] as const) {
        for (const viewport of [
          { width: 1440, height: 900 },
          { width: 390, height: 844 },
        ]) {
          await page.setViewportSize(viewport);
          await page.goto(`/#/${route}`);
          await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
          await settled();
          const v = await seriousViolations(page);
          assert.deepEqual(v, [], `axe on ${route} at ${viewport.width}px:\n${describeViolations(v)}`);
          const wide = await page.evaluate<boolean>(
            'document.documentElement.scrollWidth > document.documentElement.clientWidth',
          );
          assert.equal(wide, false, `${route} scrolls sideways at ${viewport.width}px`);
        }
      }
      await page.setViewportSize({ width: 1440, height: 900 });
    });

    test('offline: one banner, reload by itself, no form sent to a server that is down, sign-out says why', async () => {
      await page.setViewportSize({ width: 1440, height: 900 });
      await page.goto('/#/keys');
      await page.getByRole('link', { name: 'pay-prod-ledger-sync' }).waitFor();
      await context.setOffline(true);
      await page.getByRole('link', { name: 'Governance' }).click();
      const banner = page.getByRole('alert').filter({ hasText: 'Keywarden cannot be reached' });
      await banner.waitFor();
      assert.equal(await banner.count(), 1, 'one banner');
      assert.equal(await page.getByText('Keywarden could not be reached').count(), 0, 'no error per section');
      // Back online: the page loads by itself (Retry now asks at once).
      await context.setOffline(false);
      await page.getByRole('button', { name: 'Retry now' }).click();
      await banner.waitFor({ state: 'detached' });
      await page.getByRole('region', { name: /^Unowned \d+$/ }).waitFor();

      // While the server is away no form is opened, and one already open cannot be sent.
      await context.setOffline(true);
      await page.getByRole('link', { name: 'API Keys' }).click();
      await banner.waitFor();
      assert.equal(await page.getByRole('button', { name: 'Create key' }).isDisabled(), true);
      await context.setOffline(false);
      await page.getByRole('button', { name: 'Retry now' }).click();
      await page.getByRole('link', { name: 'pay-prod-ledger-sync' }).waitFor();
      await page.getByRole('link', { name: 'ops-prod-never-used' }).click();
      await page.getByRole('group', { name: 'Key actions' }).getByRole('button', { name: 'Disable' }).click();
      const dialog = page.getByRole('dialog', { name: 'Disable ops-prod-never-used' });
      await dialog.getByLabel('Reason (kept in the audit log)').fill('kept while the server is away');
      await context.setOffline(true);
      await dialog.getByRole('button', { name: 'Disable key' }).click();
      await dialog.getByText('nothing here can be sent until it answers again').waitFor();
      assert.equal(await dialog.getByRole('button', { name: 'Disable key' }).isDisabled(), true);
      assert.equal(
        await dialog.getByLabel('Reason (kept in the audit log)').inputValue(),
        'kept while the server is away',
        'what was typed is kept',
      );
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });

      // Sign-out while away: this page forgets the session and says why; the server is told when it is back.
      const cookie = (await context.cookies()).find((c) => c.name === 'kw_session');
      assert.ok(cookie !== undefined);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'Sign in to Keywarden' }).waitFor();
      await page.getByText(/could not be reached to end the session/).waitFor();
      assert.equal(await banner.count(), 1);
      assert.equal(
        await page.getByLabel('Admin key').isDisabled(),
        true,
        'no key typed for a server that is down',
      );
      await context.setOffline(false);
      await page.getByRole('button', { name: 'Retry now' }).click();
      await page.getByText('You signed out: the session has now been ended on the server too.').waitFor();
      const afterOut = await fetch(`${base}/v1/keys`, { headers: { cookie: `kw_session=${cookie.value}` } });
      assert.equal(afterOut.status, 401);
      assert.equal(await page.getByLabel('Admin key').isDisabled(), false);
      assert.deepEqual(problems, []);
    });
  },
);
