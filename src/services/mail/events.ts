import { newId } from '../../core/ids.js';
import { normalizeEmail } from '../../core/members.js';
import { getKeyRow } from '../../storage/keys-repo.js';
import { insertMail } from '../../storage/mail-repo.js';
import { getMemberRow } from '../../storage/members-repo.js';
import { takeEventMark } from '../../storage/webhooks-repo.js';
import { nowIso, type ServiceContext } from '../context.js';
import {
  disabledMail,
  isAddress,
  keyLink,
  leakedMail,
  narrowingRefusedMail,
  type Message,
  type Occasion,
} from './messages.js';

/**
 * Mail emission: an occasion becomes one delivery row, at most once per `mark` across all nodes
 * (the mark row in event_marks is the latch, as for webhook events); delivery.ts sends it later.
 */
export class MailEvents {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly publicUrl: string | undefined,
  ) {}

  link(keyId: string): string | null {
    return keyLink(this.publicUrl, keyId);
  }

  /** Queues `message` to `to` unless `mark` was taken before (by this node or another). */
  async queueOnce(
    mark: string,
    occasion: Occasion,
    to: string,
    about: { keyId: string | null; team: string | null },
    message: Message,
  ): Promise<boolean> {
    const at = nowIso(this.ctx);
    if (!(await takeEventMark(this.ctx.storage.db, `mail:${mark}`, at))) return false;
    await insertMail(this.ctx.storage.db, {
      id: newId('mail', this.ctx.clock.now()),
      occasion,
      recipient: to,
      key_id: about.keyId,
      team: about.team,
      subject: message.subject,
      text_body: message.text,
      html_body: message.html,
      status: 'pending',
      attempts: 0,
      next_attempt_at: at,
      last_error: null,
      created_at: at,
      delivered_at: null,
    });
    return true;
  }

  /**
   * A key event (the webhook events' data): leaked, disabled (not for a leak: the leak's mail says
   * it), a narrowing that would have refused calls. To the key's owner contact when it is an address.
   */
  async onEvent(event: string, data: Record<string, unknown>): Promise<boolean> {
    const keyId = typeof data.keyId === 'string' ? data.keyId : null;
    if (keyId === null || data.kind === 'admin_key') return false;
    const row = await getKeyRow(this.ctx.storage.db, keyId);
    if (row === undefined || !isAddress(row.owner_contact)) return false;
    const key = { id: row.id, name: row.name, environment: row.environment };
    const about = { keyId, team: row.owner_team };
    const link = this.link(keyId);
    const at = nowIso(this.ctx);
    switch (event) {
      case 'key.leaked': {
        const kind = typeof data.kind === 'string' ? data.kind : 'key';
        const generation = row.rotated_at ?? row.created_at;
        return this.queueOnce(
          `key.leaked:${keyId}:${kind}:${generation}`,
          'key.leaked',
          row.owner_contact,
          about,
          leakedMail(key, kind, at, link),
        );
      }
      case 'key.disabled': {
        if (data.reason === 'leaked' || row.disabled_at === null) return false;
        const by = typeof data.by === 'string' ? data.by : null;
        // The mail tells the owner that someone else disabled their key: not when they did it themselves.
        if (await this.isOwner(by, row.owner_contact)) return false;
        return this.queueOnce(
          `key.disabled:${keyId}:${row.disabled_at}`,
          'key.disabled',
          row.owner_contact,
          about,
          disabledMail(key, by, row.disabled_reason, row.disabled_at, link),
        );
      }
      case 'key.narrowing_refused': {
        const examples = Array.isArray(data.examples)
          ? (data.examples as {
              permission: string | null;
              resource: string | null;
              ip: string | null;
              at: string;
            }[])
          : [];
        return this.queueOnce(
          `key.narrowing_refused:${keyId}:${String(data.startedAt)}`,
          'key.narrowing_refused',
          row.owner_contact,
          about,
          narrowingRefusedMail(
            key,
            Array.isArray(data.permissions) ? (data.permissions as string[]) : [],
            Number(data.wouldHaveRefused ?? 0),
            examples.slice(0, 5),
            link,
          ),
        );
      }
      default:
        return false;
    }
  }

  /**
   * True when the actor `by` is the console member whose email is the key's contact (compared
   * case-insensitively). An admin key is nobody's person: its action is always someone else's.
   */
  private async isOwner(by: string | null, contact: string): Promise<boolean> {
    if (by === null) return false;
    const member = await getMemberRow(this.ctx.storage.db, by);
    return member !== undefined && member.email === normalizeEmail(contact);
  }
}
