import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { createKeywarden, type Keywarden } from '../../main.js';
import {
  DIALECTS,
  ManualClock,
  call,
  createKey,
  startServer,
  verify,
  type TestServer,
} from '../../testing/harness.js';
import { smtpServer, type ReceivedMail } from '../../testing/smtp.js';
import type { Actor } from '../../core/model.js';
import { expiryReminder } from './index.js';

const DAY = 86_400_000;
const CONTACT = 'crm-owner@example.com';
const PUBLIC_URL = 'https://keys.example.com';

test('expiry reminders: the warning window, 7 days and 1 day before, the most urgent only', () => {
  assert.equal(expiryReminder(40 * DAY, 30), null);
  assert.equal(expiryReminder(20 * DAY, 30), 30);
  assert.equal(expiryReminder(6 * DAY, 30), 7);
  assert.equal(expiryReminder(DAY / 2, 30), 1);
  assert.equal(expiryReminder(-1, 30), null);
  assert.equal(expiryReminder(5 * DAY, 5), 5);
  assert.equal(expiryReminder(5 * DAY, 3), null);
});

for (const dialect of DIALECTS) {
  describe(`owner mail over a real SMTP server (${dialect.name})`, () => {
    let t: TestServer;
    let smtp: Awaited<ReturnType<typeof smtpServer>>;
    const clock = new ManualClock(Date.parse('2026-06-01T09:00:00.000Z'));
    const secrets: string[] = [];
    before(async () => {
      // The first message is answered 451 (temporarily refused): it must be retried.
      smtp = await smtpServer({ user: 'kw-mailer', pass: 'p@ss word', failures: 1 });
      t = await startServer(dialect, {
        clock,
        mailRetryBaseMs: 1000,
        env: {
          KEYWARDEN_SMTP_URL: smtp.url,
          KEYWARDEN_MAIL_FROM: 'Keywarden <keywarden@example.com>',
          KEYWARDEN_PUBLIC_URL: PUBLIC_URL,
          KEYWARDEN_DIGEST: 'daily',
        },
      });
    });
    after(async () => {
      await t.close();
      await smtp.close();
    });
    const mail = () => {
      const m = t.kw.services.mail;
      assert.ok(m !== undefined, 'mail is configured');
      return m;
    };
    const make = async (over: Record<string, unknown>) => {
      const k = await createKey(t, { owner: { team: 'crm', contact: CONTACT }, ...over });
      secrets.push(k.key);
      return k;
    };
    const about = (id: string): ReceivedMail[] => smtp.got.filter((g) => g.raw.includes(id));
    const settle = () => new Promise((r) => setTimeout(r, 50));

    test('each occasion is mailed once, in text and HTML, with a console link; failures are retried', async () => {
      const soon = await make({ expiresAt: new Date(clock.now() + 20 * DAY).toISOString() });
      const low = await make({
        credits: { remaining: 12 },
        expiresAt: new Date(clock.now() + 200 * DAY).toISOString(),
      });
      const off = await make({ expiresAt: new Date(clock.now() + 200 * DAY).toISOString() });
      const leaked = await make({ expiresAt: new Date(clock.now() + 200 * DAY).toISOString() });
      const nobody = await createKey(t, {
        owner: { team: 'crm', contact: '#crm-oncall' },
        expiresAt: new Date(clock.now() + 3 * DAY).toISOString(),
      });
      for (let i = 0; i < 3; i++) await verify(t, { key: low.key });
      await t.kw.services.ctx.usage.flush();
      await call(t, 'POST', `/v1/keys/${off.id}/disable`, { reason: 'moving to vault' });
      await call(t, 'POST', '/v1/leaks', { text: `pasted: ${leaked.key}` });
      await settle();
      for (let i = 0; i < 2; i++) await mail().scan(30);

      // The first attempt is refused (451): retried after its backoff, visible meanwhile.
      assert.equal(await mail().deliverDue(), 3);
      let log = (await call(t, 'GET', '/v1/notifications/deliveries')).body.items as Record<
        string,
        unknown
      >[];
      const retrying = log.filter((d) => d.status === 'pending');
      assert.equal(retrying.length, 1, JSON.stringify(log));
      assert.deepEqual([retrying[0]?.attempts, retrying[0]?.lastError], [1, 'temporarily_rejected']);
      assert.match(t.logs(), /owner mail failed; it will be retried/);
      const metrics = await t.kw.app.inject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, /keywarden_mail_deliveries_total\{outcome="retry"\} 1/);
      assert.equal(await mail().deliverDue(), 0, 'not before its backoff');
      clock.advance(1);
      assert.equal(await mail().deliverDue(), 1);
      log = (await call(t, 'GET', '/v1/notifications/deliveries')).body.items as Record<string, unknown>[];
      assert.deepEqual(
        log.map((d) => d.status),
        ['sent', 'sent', 'sent', 'sent'],
      );

      assert.equal(about(soon.id).length, 1);
      assert.match(about(soon.id)[0]?.subject ?? '', /expires in 20 days/);
      assert.equal(about(low.id).length, 1);
      assert.match(about(low.id)[0]?.subject ?? '', /low on credits/);
      assert.deepEqual(
        about(off.id).map((m) => m.subject),
        [`[Keywarden] ${String(off.record.name)} (production) was disabled`],
      );
      assert.match(about(off.id)[0]?.raw ?? '', /disabled by adm_/);
      assert.match(about(off.id)[0]?.raw ?? '', /moving to vault/);
      assert.deepEqual(
        about(leaked.id).map((m) => m.subject),
        [`[Keywarden] ${String(leaked.record.name)} (production) was reported leaked`],
        'one mail for the leak (which disabled it), not a second one for the disable',
      );
      assert.equal(about(nobody.id).length, 0, 'a contact that is not an address gets no mail');
      for (const m of smtp.got) {
        assert.deepEqual([m.to, m.from], [[CONTACT], 'keywarden@example.com']);
        assert.match(m.raw, /Content-Type: text\/plain/);
        assert.match(m.raw, /Content-Type: text\/html/);
        assert.match(m.raw, /Environment: production/);
        assert.ok(m.raw.includes(`${PUBLIC_URL}/console/#/keys/`), 'a link to the key page');
      }

      // Later reminders: 7 days, then 1 day before; each once.
      clock.advance((14 * DAY) / 1000);
      await mail().scan(30);
      await mail().scan(30);
      clock.advance((5.5 * DAY) / 1000);
      await mail().scan(30);
      await mail().deliverDue();
      await mail().scan(30);
      await mail().deliverDue();
      assert.deepEqual(
        about(soon.id).map((m) => /expires (in \d+ days|within a day)/.exec(m.subject)?.[1]),
        ['in 20 days', 'in 6 days', 'within a day'],
      );
    });

    test('the daily digest: one mail per contact per day with their findings', async () => {
      const before = smtp.got.length;
      assert.ok((await mail().digest(() => t.kw.services.governance.report(rootActor()))) >= 1);
      assert.equal(await mail().digest(() => t.kw.services.governance.report(rootActor())), 0, 'once a day');
      await mail().deliverDue();
      const digests = smtp.got.slice(before).filter((m) => /finding/.test(m.subject));
      assert.equal(digests.length, 1);
      assert.deepEqual(digests[0]?.to, [CONTACT]);
      assert.match(digests[0]?.raw ?? '', /rotationDue/);
    });

    test('a narrowing that would have refused calls: the owner is told what, once', async () => {
      const k = await make({
        permissions: ['agents:invoke', 'billing:read'],
        expiresAt: new Date(clock.now() + 200 * DAY).toISOString(),
      });
      const s = await call(t, 'POST', `/v1/keys/${k.id}/narrowing`, {
        permissions: ['agents:invoke'],
        days: 1,
      });
      assert.equal(s.status, 201, s.raw);
      await verify(t, { key: k.key, permission: 'billing:read', resource: 'inv_7', ip: '198.51.100.4' });
      // Past the end and its settling time (three of the longest usage flush intervals, 60 s each).
      clock.advance((DAY + 4 * 60_000) / 1000);
      assert.equal(await t.kw.services.narrowing.finishDue(), 1);
      assert.equal(await t.kw.services.narrowing.finishDue(), 0);
      await settle();
      await mail().deliverDue();
      const told = about(k.id);
      assert.equal(told.length, 1);
      assert.match(told[0]?.subject ?? '', /was not narrowed: 1 calls needed more/);
      assert.match(told[0]?.raw ?? '', /billing:read on inv_7 from 198\.51\.100\.4/);
    });

    test('"disabled by someone else": no mail when the owner disabled the key; a leak always mails', async () => {
      const member = async (email: string): Promise<Actor> => {
        const r = await call(t, 'POST', '/v1/members', { email, role: 'admin' });
        assert.equal(r.status, 201, r.raw);
        return t.kw.services.members.actorById(String(r.body.id), '192.0.2.1');
      };
      // The owner signs in with the contact's address, in another case.
      const owner = await member(CONTACT.toUpperCase());
      const colleague = await member('colleague@example.com');
      const later = new Date(clock.now() + 200 * DAY).toISOString();
      const [mine, theirs, byKey, leakedByOwner] = await Promise.all(
        [1, 2, 3, 4].map(() => make({ expiresAt: later })),
      );
      assert.ok(mine && theirs && byKey && leakedByOwner);
      await t.kw.services.keys.setEnabled(owner, mine.id, false, 'retiring my script');
      await t.kw.services.keys.setEnabled(colleague, theirs.id, false, 'cleanup');
      assert.equal((await call(t, 'POST', `/v1/keys/${byKey.id}/disable`, {})).status, 200);
      await t.kw.services.governance.reportLeak(owner, `oops: ${leakedByOwner.key}`);
      await settle();
      await mail().deliverDue();
      assert.equal(about(mine.id).length, 0, 'the owner disabled it: nobody else to tell them about');
      assert.deepEqual(
        about(theirs.id).map((m) => m.subject),
        [`[Keywarden] ${String(theirs.record.name)} (production) was disabled`],
      );
      assert.match(about(theirs.id)[0]?.raw ?? '', new RegExp(`disabled by ${colleague.id}`));
      assert.equal(about(byKey.id).length, 1, 'an admin key is someone else');
      assert.deepEqual(
        about(leakedByOwner.id).map((m) => m.subject),
        [`[Keywarden] ${String(leakedByOwner.record.name)} (production) was reported leaked`],
        'a leak is mailed whoever reported it',
      );
    });

    test('no secret in any mail body, stored or sent', async () => {
      const rows = await t.kw.storage.db.selectFrom('mail_deliveries').selectAll().execute();
      assert.ok(rows.length >= 7);
      for (const s of secrets) {
        const body = s.slice(8);
        for (const r of rows) assert.ok(!`${r.subject}${r.text_body}${r.html_body}`.includes(body));
        for (const m of smtp.got) assert.ok(!m.raw.includes(body));
      }
      assert.ok(
        !t.logs().includes('p@ss word') && !t.logs().includes('p%40ss'),
        'the SMTP password is never logged',
      );
    });

    test('two nodes sharing the store mail each occasion once', async () => {
      const second: Keywarden = await createKeywarden(t.config, {
        clock,
        logger: pino({ level: 'silent' }),
        mailRetryBaseMs: 1000,
        ...(t.schema === undefined ? {} : { schema: t.schema }),
      });
      try {
        const k = await make({ expiresAt: new Date(clock.now() + 3 * DAY).toISOString() });
        const nodes = [t.kw, second];
        const mails = nodes.map((n) => n.services.mail);
        assert.ok(mails.every((m) => m !== undefined));
        // Both scan and both hear the same disable (each node's sink hears what it does itself;
        // the event is replayed on the other to stand for a concurrent duplicate).
        await Promise.all(mails.map((m) => m?.scan(30)));
        await call(t, 'POST', `/v1/keys/${k.id}/disable`);
        await settle();
        const row = await t.kw.storage.db
          .selectFrom('keys')
          .select(['disabled_at'])
          .where('id', '=', k.id)
          .executeTakeFirstOrThrow();
        assert.ok(row.disabled_at !== null);
        assert.equal(await mails[1]?.notifyNow('key.disabled', { keyId: k.id, reason: null }), false);
        await Promise.all(mails.map((m) => m?.deliverDue()));
        await Promise.all(mails.map((m) => m?.deliverDue()));
        assert.deepEqual(
          about(k.id)
            .map((m) => m.subject.replace(/^.*\) /, ''))
            .sort(),
          ['expires in 3 days', 'was disabled'],
        );
      } finally {
        await second.close();
      }
    });
  });
}

function rootActor() {
  return { id: 'test', permissions: new Set(['*' as const]), team: null, ip: null };
}
