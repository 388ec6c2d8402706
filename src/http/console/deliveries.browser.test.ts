import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  describeViolations,
  haveChromium,
  launch,
  openContext,
  screenshot,
  seriousViolations,
  signIn,
} from '../../testing/browser.js';
import { sql } from 'kysely';
import { call, createKey, startServer, verify, type TestServer } from '../../testing/harness.js';
import { smtpServer } from '../../testing/smtp.js';

const REFUSED = 'gone-owner@example.com';
const FINE = 'crm-owner@example.com';

/** Polls `probe` until it holds (the dispatchers run on their own timers). */
async function until(what: string, probe: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Issue 24 in the console: owner mail and webhook deliveries that failed for real (an SMTP server
 * that refuses the recipient, a webhook receiver that answers 500) stand out on the Deliveries
 * page; a narrowing's shadow rows and an overflow row are marked on the logs, not taken for
 * refusals. One server (SQLite), one browser.
 */
describe(
  'web console, deliveries and marked log rows (Chromium)',
  { skip: haveChromium ? false : 'no Chromium' },
  () => {
    let t: TestServer;
    let smtp: Awaited<ReturnType<typeof smtpServer>>;
    let receiver: Server;
    let browser: Browser;
    let page: Page;
    let problems: string[];
    let gone: { key: string; id: string };
    let narrowed: { key: string; id: string };

    before(async () => {
      smtp = await smtpServer({ user: 'kw-mailer', pass: 'secret', refuse: [REFUSED] });
      receiver = createServer((_req, res) => {
        res.writeHead(500).end('down');
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      t = await startServer(
        { name: 'sqlite' },
        {
          // Retries after 1 ms, doubling: the 8 attempts before a message is given up take well under a second.
          mailRetryBaseMs: 1,
          env: {
            KEYWARDEN_SMTP_URL: smtp.url,
            KEYWARDEN_MAIL_FROM: 'Keywarden <keywarden@example.com>',
            KEYWARDEN_WEBHOOK_RETRY_BASE_MS: '1',
            // A small row cap, so that a few distinct unknown keys make an overflow row.
            KEYWARDEN_LOG_MAX_ROWS_PER_MINUTE: '4',
          },
        },
      );
      await t.kw.app.listen({ port: 0, host: '127.0.0.1' });
      const addr = t.kw.app.server.address();
      assert.ok(addr !== null && typeof addr === 'object');
      // The dispatchers `keywarden serve` starts, at a test's pace.
      t.kw.services.mail?.start(50);
      t.kw.services.webhooks.start(50);

      const hook = await call(t, 'POST', '/v1/webhooks', {
        url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
        events: ['key.disabled'],
        description: 'pager bridge',
      });
      assert.equal(hook.status, 201, hook.raw);
      gone = await createKey(t, { name: 'crm-prod-gone-owner', owner: { team: 'crm', contact: REFUSED } });
      const fine = await createKey(t, { name: 'crm-prod-fine-owner', owner: { team: 'crm', contact: FINE } });
      for (const k of [gone, fine])
        assert.equal((await call(t, 'POST', `/v1/keys/${k.id}/disable`, { reason: 'retired' })).status, 200);

      // A call the database refuses to store as it was (a CHECK on its IP, met through a trigger as
      // SQLite adds no constraint to a table): the first row of its minute, counted without its details.
      await sql`create table kw_test_refused (ip text check (ip is not '10.66.6.6'))`.execute(
        t.kw.storage.db,
      );
      await sql`create trigger kw_test_refuse before insert on verification_log
        begin insert into kw_test_refused values (new.ip); end`.execute(t.kw.storage.db);
      const salvaged = await createKey(t, { name: 'crm-prod-refused-row' });
      assert.equal((await verify(t, { key: salvaged.key, ip: '10.66.6.6' })).valid, true);

      // A narrowing that would refuse agents:read: the call is allowed (VALID) and a shadow row kept.
      narrowed = await createKey(t, {
        name: 'crm-prod-narrowed',
        permissions: ['agents:invoke', 'agents:read'],
      });
      const n = await call(t, 'POST', `/v1/keys/${narrowed.id}/narrowing`, {
        permissions: ['agents:invoke'],
        days: 7,
      });
      assert.equal(n.status, 201, n.raw);
      assert.equal((await verify(t, { key: narrowed.key, permission: 'agents:read' })).valid, true);
      // A real refusal beside it, which must stay unmarked.
      assert.equal((await verify(t, { key: narrowed.key, permission: 'billing:write' })).valid, false);
      // Distinct unknown keys past the row cap (on either side of a minute boundary): an overflow row.
      for (let i = 0; i < 10; i++) await verify(t, { key: 'kw_live_nosuchkey', ip: `10.9.0.${i}` });
      await t.kw.services.ctx.usage.flush();
      await sql`drop trigger kw_test_refuse`.execute(t.kw.storage.db);

      await until('the refused mail to be given up and the other sent', async () => {
        const r = await call(t, 'GET', '/v1/notifications/deliveries');
        const items = r.body.items as { recipient: string; status: string }[];
        return (
          items.some((m) => m.recipient === REFUSED && m.status === 'failed') &&
          items.some((m) => m.recipient === FINE && m.status === 'sent')
        );
      });
      await until('the webhook deliveries to be given up', async () => {
        const r = await call(t, 'GET', `/v1/webhooks/${(hook.body.record as { id: string }).id}/deliveries`);
        const items = r.body.items as { status: string }[];
        return items.length === 2 && items.every((d) => d.status === 'failed');
      });

      browser = await launch();
      ({ page, problems } = await openContext(browser, `http://127.0.0.1:${addr.port}`));
      await signIn(page, t.root);
    });

    after(async () => {
      await browser.close();
      await t.close();
      await smtp.close();
      await new Promise((resolve) => receiver.close(resolve));
    });

    test('the Deliveries page: a refused owner mail stands out, with its error, next to a delivered one', async () => {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Deliveries' }).click();
      await page.getByRole('heading', { name: 'Deliveries', level: 1 }).waitFor();
      const mail = page.getByRole('region', { name: 'Owner mail table' });
      const failed = mail.getByRole('row').filter({ hasText: REFUSED });
      await failed.waitFor();
      const cells = failed.getByRole('cell');
      // The status is in words (not a colour only), with the error category and what it means.
      assert.equal(await cells.nth(1).innerText(), '✕ Failed: given up');
      assert.equal(await cells.nth(2).innerText(), 'key.disabled');
      assert.equal(await cells.nth(6).innerText(), '8');
      assert.match(await cells.nth(7).innerText(), /^rejected: refused for good \(5xx/);
      assert.equal(await cells.nth(9).innerText(), 'not delivered');
      assert.equal(await failed.getAttribute('class'), 'row-failed');
      // The key by name, linked to its page.
      const link = cells.nth(4).getByRole('link', { name: 'crm-prod-gone-owner' });
      assert.equal(await link.getAttribute('href'), `#/keys/${gone.id}`);
      await page.getByText('1 message shown here could not be delivered and was given up.').waitFor();

      const sent = mail.getByRole('row').filter({ hasText: FINE });
      assert.equal(await sent.getByRole('cell').nth(1).innerText(), '✓ Delivered');
      assert.equal(await sent.getAttribute('class'), null);
      assert.equal(smtp.got.filter((g) => g.to.includes(FINE)).length, 1, 'the other owner got their mail');

      // The webhook's log: picked from the list (the only one), its failures with the receiver's answer.
      const pick = page.getByRole('combobox', { name: 'Webhook', exact: true });
      await pick.waitFor();
      assert.match(await pick.locator('option:checked').innerText(), /\/hook \(pager bridge\)$/);
      const hooks = page.getByRole('region', { name: 'Webhook deliveries table' });
      const rows = hooks.getByRole('row').filter({ hasText: 'key.disabled' });
      await rows.first().waitFor();
      assert.equal(await rows.count(), 2);
      assert.equal(await rows.first().getByRole('cell').nth(1).innerText(), '✕ Failed: given up');
      assert.match(
        await rows.first().getByRole('cell').nth(4).innerText(),
        /^HTTP 500 http_error: the receiver answered with an error$/,
      );
      await screenshot(page, 'deliveries');
    });

    test('the Deliveries page is axe-clean and fits at 1440×900 and 390×844', async () => {
      for (const viewport of [
        { width: 1440, height: 900 },
        { width: 390, height: 844 },
      ]) {
        await page.setViewportSize(viewport);
        await page.goto('/#/deliveries');
        await page.getByRole('region', { name: 'Webhook deliveries table' }).waitFor();
        const v = await seriousViolations(page);
        assert.deepEqual(v, [], `axe at ${viewport.width}px:\n${describeViolations(v)}`);
        const wide = await page.evaluate<boolean>(
          'document.documentElement.scrollWidth > document.documentElement.clientWidth',
        );
        assert.equal(wide, false, `scrolls sideways at ${viewport.width}px`);
      }
      await page.setViewportSize({ width: 1440, height: 900 });
    });

    test('"Load more" reads the next page of the mail log', async () => {
      // A page of one row: the second mail comes with "Load more".
      const mailLog = (u: URL): boolean => u.pathname === '/v1/notifications/deliveries';
      await page.route(mailLog, (route) =>
        route.continue({ url: route.request().url().replace('limit=50', 'limit=1') }),
      );
      try {
        await page.goto('/#/keys');
        await page.goto('/#/deliveries');
        const mail = page.getByRole('region', { name: 'Owner mail table' });
        await mail.waitFor();
        assert.equal(await mail.getByRole('row').count(), 2, 'the header and one mail');
        await page.getByRole('button', { name: 'Load more mail' }).click();
        await mail.getByRole('row').nth(2).waitFor();
        assert.equal(await mail.getByRole('row').count(), 3);
        await page.getByRole('button', { name: 'Load more mail' }).waitFor({ state: 'detached' });
      } finally {
        await page.unrouteAll();
      }
    });

    test('without admin:manage the page is not in the navigation and says what it needs', async () => {
      const made = await call(t, 'POST', '/v1/admin-keys', {
        name: 'reader',
        permissions: ['keys:read', 'logs:read'],
      });
      assert.equal(made.status, 201, made.raw);
      const other = await openContext(browser, new URL(page.url()).origin);
      try {
        await signIn(other.page, made.body.key as string);
        assert.equal(
          await other.page
            .getByRole('navigation', { name: 'Main' })
            .getByRole('link', { name: 'Deliveries' })
            .count(),
          0,
        );
        await other.page.goto('/#/deliveries');
        await other.page.getByText('This page needs the admin permission admin:manage').waitFor();
      } finally {
        await other.context.close();
      }
    });

    test('the verification log marks shadow and overflow rows; a real refusal stays unmarked', async () => {
      await page.goto('/#/logs');
      await page.getByRole('heading', { name: 'Verification log', level: 1 }).waitFor();
      const table = page.getByRole('region', { name: 'Verifications table' });
      const shadow = table.getByRole('row').filter({ hasText: 'Narrowing would refuse' });
      await shadow.waitFor();
      assert.match(
        await shadow.getByRole('cell').nth(2).innerText(),
        /^Narrowing would refuse: INSUFFICIENT_PERMISSIONS$/,
      );
      assert.match(await shadow.innerText(), /agents:read/);
      const refused = table.getByRole('row').filter({ hasText: 'billing:write' });
      assert.equal((await refused.getByRole('cell').nth(2).innerText()).trim(), 'INSUFFICIENT_PERMISSIONS');
      const overflow = table.getByRole('row').filter({ hasText: 'overflow row' });
      assert.ok((await overflow.count()) >= 1, 'an overflow row');
      assert.match(await overflow.first().innerText(), /calls past the minute's row limit/);
      const refusedRow = table.getByRole('row').filter({ hasText: 'details not kept' });
      assert.equal(await refusedRow.count(), 1, 'the call the database refused');
      assert.match(await refusedRow.innerText(), /crm-prod-refused-row[\s\S]*the database refused to store/);
      assert.doesNotMatch(await refusedRow.innerText(), /10\.66\.6\.6|row limit/);
      const v = await seriousViolations(page);
      assert.deepEqual(v, [], `axe on the log:\n${describeViolations(v)}`);
      await screenshot(page, 'logs-marked');

      // The key's own page, its recent verifications: the same marker.
      await page.goto(`/#/keys/${narrowed.id}`);
      await page.getByRole('heading', { name: 'crm-prod-narrowed', level: 1 }).waitFor();
      await page.getByText('Narrowing would refuse: INSUFFICIENT_PERMISSIONS').waitFor();
      assert.deepEqual(problems, []);
    });
  },
);
