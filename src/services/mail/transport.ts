import { createTransport, type Transporter } from 'nodemailer';
import type { Message } from './messages.js';

/** Sends one message; resolves with null on success or a coarse error category. Never throws. */
export type SendMail = (to: string, message: Message) => Promise<string | null>;

/**
 * SMTP over nodemailer from `KEYWARDEN_SMTP_URL` (`smtp://` or `smtps://`, credentials in the
 * URL). The URL holds a password: it is never logged, and failures are reported as categories.
 */
export function smtpSender(
  smtpUrl: string,
  from: string,
  timeoutMs = 10_000,
): { send: SendMail; close(): void } {
  const url = new URL(smtpUrl);
  const secure = url.protocol === 'smtps:';
  const transport: Transporter = createTransport({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
    secure,
    ...(url.username === ''
      ? {}
      : { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return {
    send: async (to, m) => {
      try {
        await transport.sendMail({ from, to, subject: m.subject, text: m.text, html: m.html });
        return null;
      } catch (err) {
        return mailError(err);
      }
    },
    close: () => {
      transport.close();
    },
  };
}

/** nodemailer's failure as a category for the delivery log (its message may quote the server). */
export function mailError(err: unknown): string {
  const e = err as { code?: unknown; responseCode?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const status = typeof e.responseCode === 'number' ? e.responseCode : 0;
  if (code === 'EAUTH') return 'auth_failed';
  if (code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ECONNECTION' || code === 'ESOCKET' || code === 'EDNS') return 'connection_failed';
  // The server's answer to the envelope or the message: 4xx is temporary, 5xx final (both retried).
  if (status >= 400 && status < 500) return 'temporarily_rejected';
  if (code === 'EENVELOPE' || code === 'EMESSAGE' || status >= 500) return 'rejected';
  return 'error';
}
