import { SECTIONS, type GovernanceReport } from '../../core/governance.js';
import { contactKeys } from '../../storage/mail-repo.js';
import type { ServiceContext } from '../context.js';
import type { MailEvents } from './events.js';
import { creditsLowMail, digestMail, expiringMail, isAddress, type MailKey } from './messages.js';

const DAY = 86_400_000;
const DEFAULT_CREDITS_LOW = 10;

/**
 * The reminder of an expiry: at the policy's warning window, then 7 days and 1 day before. A key
 * already inside a later reminder's window gets only that one (a key created 5 days before its
 * expiry is not told "in 14 days").
 */
export function expiryReminder(leftMs: number, warningDays: number): number | null {
  if (leftMs <= 0) return null;
  const steps = [...new Set([warningDays, 7, 1])].filter((d) => d <= warningDays).sort((a, b) => a - b);
  return steps.find((d) => leftMs <= d * DAY) ?? null;
}

/** Job: expiry reminders and low credits, each once per key and occasion across nodes. */
export async function scanMail(
  ctx: ServiceContext,
  events: MailEvents,
  warningDays: number,
): Promise<number> {
  const now = ctx.clock.now();
  let n = 0;
  for (const k of await contactKeys(ctx.storage.db)) {
    if (!isAddress(k.owner_contact)) continue;
    const key: MailKey = { id: k.id, name: k.name, environment: k.environment };
    const about = { keyId: k.id, team: k.owner_team };
    if (k.expires_at !== null) {
      const left = Date.parse(k.expires_at) - now;
      const step = expiryReminder(left, warningDays);
      if (
        step !== null &&
        (await events.queueOnce(
          `key.expiring:${k.id}:${k.expires_at}:${step}d`,
          'key.expiring',
          k.owner_contact,
          about,
          expiringMail(key, k.expires_at, Math.ceil(left / DAY), events.link(k.id)),
        ))
      )
        n++;
    }
    if (k.credits_remaining !== null) {
      const meta = JSON.parse(k.metadata) as { creditsLowThreshold?: unknown };
      const threshold =
        typeof meta.creditsLowThreshold === 'number' ? meta.creditsLowThreshold : DEFAULT_CREDITS_LOW;
      if (
        k.credits_remaining <= threshold &&
        (await events.queueOnce(
          `key.credits_low:${k.id}:${k.credits_refilled_at ?? 'initial'}`,
          'key.credits_low',
          k.owner_contact,
          about,
          creditsLowMail(key, k.credits_remaining, threshold, events.link(k.id)),
        ))
      )
        n++;
    }
  }
  return n;
}

/**
 * Job (`KEYWARDEN_DIGEST=daily`): one mail per owner contact per UTC day listing the governance
 * findings on their keys; none when they have none.
 */
export async function sendDigests(
  ctx: ServiceContext,
  events: MailEvents,
  report: () => Promise<GovernanceReport>,
  publicUrl: string | undefined,
): Promise<number> {
  const day = new Date(ctx.clock.now()).toISOString().slice(0, 10);
  const owners = new Map<string, { key: MailKey; team: string | null; contact: string }>();
  for (const k of await contactKeys(ctx.storage.db)) {
    if (isAddress(k.owner_contact))
      owners.set(k.id, {
        key: { id: k.id, name: k.name, environment: k.environment },
        team: k.owner_team,
        contact: k.owner_contact,
      });
  }
  if (owners.size === 0) return 0;
  const r = await report();
  const byContact = new Map<string, { key: MailKey; section: string; reason: string }[]>();
  for (const section of SECTIONS) {
    for (const f of r[section]) {
      const o = owners.get(f.keyId);
      if (o === undefined) continue;
      const list = byContact.get(o.contact) ?? [];
      list.push({ key: o.key, section, reason: f.reason });
      byContact.set(o.contact, list);
    }
  }
  let n = 0;
  for (const [contact, findings] of byContact) {
    if (
      await events.queueOnce(
        `digest:${contact}:${day}`,
        'digest',
        contact,
        { keyId: null, team: null },
        digestMail(contact, day, findings, publicUrl),
      )
    )
      n++;
  }
  return n;
}
