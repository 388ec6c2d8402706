/**
 * Owner mail, composed: a subject, a plain-text body and an HTML body per occasion. What a mail
 * may say is fixed here: the key's name, id and environment, what happened and when, and a link
 * to the key's console page. Never a secret: the composer is given no key material at all.
 */

export type Occasion =
  'key.expiring' | 'key.leaked' | 'key.disabled' | 'key.credits_low' | 'key.narrowing_refused' | 'digest';

export interface MailKey {
  id: string;
  name: string;
  environment: string;
}

export interface Message {
  subject: string;
  text: string;
  html: string;
}

/** An email address as `owner.contact` may hold one (mail goes only to those). */
export function isAddress(contact: string | null): contact is string {
  return contact !== null && /^[^\s@<>"',;]+@[^\s@<>"',;]+\.[^\s@<>"',;]+$/.test(contact);
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The console page of a key (`KEYWARDEN_PUBLIC_URL`), or null when the public URL is not set. */
export function keyLink(publicUrl: string | undefined, keyId: string): string | null {
  if (publicUrl === undefined) return null;
  return `${publicUrl.replace(/\/+$/, '')}/console/#/keys/${encodeURIComponent(keyId)}`;
}

interface Parts {
  subject: string;
  /** The sentences of the mail, as plain text (escaped for HTML here). */
  lines: string[];
  /** Detail rows (label, value). */
  facts: [string, string][];
  link: string | null;
}

function render(p: Parts): Message {
  const text = [
    ...p.lines,
    '',
    ...p.facts.map(([k, v]) => `${k}: ${v}`),
    ...(p.link === null ? [] : ['', `Open it in the console: ${p.link}`]),
    '',
    '-- Keywarden (you receive this as the owner contact of the key)',
  ].join('\n');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    ...p.lines.map((l) => `<p>${escapeHtml(l)}</p>`),
    '<table>',
    ...p.facts.map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`),
    '</table>',
    ...(p.link === null ? [] : [`<p><a href="${escapeHtml(p.link)}">Open it in the console</a></p>`]),
    '<p style="color:#666">Keywarden: you receive this as the owner contact of the key.</p>',
    '</body></html>',
  ].join('\n');
  return { subject: p.subject, text, html };
}

const keyFacts = (k: MailKey): [string, string][] => [
  ['Key', k.name],
  ['Environment', k.environment],
  ['Key id', k.id],
];

export function expiringMail(k: MailKey, expiresAt: string, daysLeft: number, link: string | null): Message {
  const when = daysLeft <= 1 ? 'within a day' : `in ${daysLeft} days`;
  return render({
    subject: `[Keywarden] ${k.name} (${k.environment}) expires ${when}`,
    lines: [
      `The API key ${k.name} expires ${when}, at ${expiresAt}.`,
      'Rotate it (regenerate its secret) or extend its expiry before then, or it stops working.',
    ],
    facts: [...keyFacts(k), ['Expires at', expiresAt]],
    link,
  });
}

export function leakedMail(k: MailKey, kind: string, at: string, link: string | null): Message {
  const what =
    kind === 'rotated_secret'
      ? 'A previous secret of the key, still in its rotation grace window, was reported leaked: its grace window was ended at once.'
      : 'The key was reported leaked and was disabled at once.';
  return render({
    subject: `[Keywarden] ${k.name} (${k.environment}) was reported leaked`,
    lines: [what, 'Regenerate its secret, update the systems that use it, then enable it again.'],
    facts: [...keyFacts(k), ['Reported at', at]],
    link,
  });
}

export function disabledMail(
  k: MailKey,
  by: string | null,
  reason: string | null,
  at: string,
  link: string | null,
): Message {
  return render({
    subject: `[Keywarden] ${k.name} (${k.environment}) was disabled`,
    lines: [
      `The API key ${k.name} was disabled${by === null ? '' : ` by ${by}`}: calls with it are refused until it is enabled again.`,
    ],
    facts: [
      ...keyFacts(k),
      ['Disabled at', at],
      ...(reason === null ? [] : [['Reason', reason] as [string, string]]),
    ],
    link,
  });
}

export function creditsLowMail(
  k: MailKey,
  remaining: number,
  threshold: number,
  link: string | null,
): Message {
  return render({
    subject: `[Keywarden] ${k.name} (${k.environment}) is low on credits`,
    lines: [
      `The API key ${k.name} has ${remaining} credits left (warning threshold ${threshold}).`,
      'Calls are refused once they run out: add credits or check what uses them.',
    ],
    facts: [...keyFacts(k), ['Credits left', String(remaining)]],
    link,
  });
}

export function narrowingRefusedMail(
  k: MailKey,
  permissions: readonly string[],
  refused: number,
  examples: readonly { permission: string | null; resource: string | null; ip: string | null; at: string }[],
  link: string | null,
): Message {
  return render({
    subject: `[Keywarden] ${k.name} (${k.environment}) was not narrowed: ${refused} calls needed more`,
    lines: [
      `A shadow period tried the narrower permissions [${permissions.join(', ')}] on the API key ${k.name}.`,
      `${refused} calls would have been refused with them, so the key was left as it is. For example:`,
      ...examples.map(
        (e) =>
          `- ${e.permission ?? '?'}${e.resource === null ? '' : ` on ${e.resource}`} from ${e.ip ?? 'an unknown address'} at ${e.at}`,
      ),
    ],
    facts: [...keyFacts(k), ['Narrower set', permissions.join(', ')]],
    link,
  });
}

export function digestMail(
  contact: string,
  day: string,
  findings: readonly { key: MailKey; section: string; reason: string }[],
  publicUrl: string | undefined,
): Message {
  const lines = [`Governance findings on the API keys you own (${contact}), ${day}:`];
  for (const f of findings) {
    const link = keyLink(publicUrl, f.key.id);
    lines.push(
      `- ${f.key.name} (${f.key.environment}), ${f.section}: ${f.reason}${link === null ? '' : ` (${link})`}`,
    );
  }
  return render({
    subject: `[Keywarden] ${findings.length} finding${findings.length === 1 ? '' : 's'} on your keys, ${day}`,
    lines,
    facts: [],
    link: null,
  });
}
