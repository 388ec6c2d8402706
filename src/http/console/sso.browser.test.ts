import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { haveChromium, launch, openContext, screenshot } from '../../testing/browser.js';
import { aKey, call, startServer, type TestServer } from '../../testing/harness.js';
import { freePort, startProvider, type TestProvider } from '../../testing/oidc.js';

/**
 * One whole SSO sign-in in Chromium: the console's "Sign in with SSO", the provider's own login
 * and consent pages (oidc-provider on another site: `localhost` against Keywarden's
 * `127.0.0.1`), back to the console signed in as the person, whose removal ends the session.
 */
describe(
  'web console, single sign-on (Chromium)',
  { skip: haveChromium ? false : 'no Chromium (apt-get install chromium)' },
  () => {
    let t: TestServer;
    let provider: TestProvider;
    let base: string;
    let browser: Browser;
    before(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      provider = await startProvider({
        redirectUri: `${base}/console/api/oidc/callback`,
        host: 'localhost',
        accounts: [{ sub: 'alice', email: 'alice@example.com', emailVerified: true, name: 'Alice Liddell' }],
      });
      t = await startServer(
        { name: 'sqlite' },
        {
          env: {
            KEYWARDEN_OIDC_ISSUER: provider.issuer,
            KEYWARDEN_OIDC_CLIENT_ID: provider.clientId,
            KEYWARDEN_OIDC_CLIENT_SECRET: provider.clientSecret,
            KEYWARDEN_PUBLIC_URL: base,
          },
        },
      );
      await t.kw.app.listen({ port, host: '127.0.0.1' });
      const m = await call(t, 'POST', '/v1/members', { email: 'alice@example.com', role: 'admin' });
      assert.equal(m.status, 201, m.raw);
      browser = await launch();
    });
    after(async () => {
      await browser.close();
      await t.close();
      await provider.close();
    });

    test('sign in with SSO through the provider; the console shows the person; removal signs them out', async () => {
      const { context, page, problems } = await openContext(browser, base);
      try {
        await page.goto('/');
        const sso = page.getByRole('link', { name: 'Sign in with SSO' });
        await sso.waitFor({ timeout: 5000 }).catch(async (err: unknown) => {
          throw new Error(`${String(err)}\n${(await page.content()).slice(0, 3000)}\n${problems.join('\n')}`);
        });
        assert.equal(await page.getByLabel('Admin key').count(), 1, 'admin-key sign-in stays offered');
        await sso.click();
        await page.waitForURL((u) => u.host === new URL(provider.issuer).host);
        await page.locator('input[name="login"]').fill('alice');
        await page.locator('input[name="password"]').fill('any password');
        await page.locator('button[type="submit"]').click();
        await page.getByRole('button', { name: 'Continue' }).click();
        await page.waitForURL(`${base}/**`);
        const who = page.locator('.who');
        await who
          .getByText('alice@example.com · admin')
          .waitFor({ timeout: 10000 })
          .catch(async (err: unknown) => {
            throw new Error(`${String(err)}\n${page.url()}\n${(await page.content()).slice(0, 2000)}`);
          });
        await screenshot(page, 'sso-signed-in');
        const cookies = await context.cookies(base);
        const session = cookies.find((c) => c.name === 'kw_session');
        assert.ok(session !== undefined && session.httpOnly && session.sameSite === 'Strict');
        // What the person does is audited under their name, and the console's audit page shows them.
        const created = await page.evaluate(
          async (body) => {
            const s = (await (await fetch('/console/api/session')).json()) as { csrfToken: string };
            const r = await fetch('/v1/keys', {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken },
              body: JSON.stringify(body),
            });
            return r.status;
          },
          aKey({ name: 'crm-prod-by-alice' }),
        );
        assert.equal(created, 201);
        await page.goto('/#/audit');
        await page
          .getByRole('row')
          .filter({ hasText: 'key.create' })
          .filter({ hasText: 'alice@example.com' })
          .first()
          .waitFor({ timeout: 10000 });
        // Removed while signed in: the next request of the console is refused.
        const id = (await t.kw.services.members.byEmail('alice@example.com'))?.id ?? '';
        assert.equal((await call(t, 'DELETE', `/v1/members/${id}`)).status, 200);
        const status = await page.evaluate(async () => (await fetch('/console/api/session')).status);
        assert.equal(status, 401);
      } finally {
        await context.close();
      }
    });
  },
);
