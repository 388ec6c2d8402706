/**
 * Owner mail, one file per job as the webhooks: `service.ts` (the facade the app holds),
 * `events.ts` (occasions into mail rows, once per key and occasion), `scans.ts` (expiry reminders,
 * low credits, the daily digest), `delivery.ts` (sends with retries over `transport.ts`, SMTP via
 * nodemailer) and `messages.ts` (subject, text and HTML per occasion; never a secret). Their
 * queries live in storage/mail-repo.ts.
 */
export { MailService, MAIL_RETRY_BASE_MS, withMail, type MailOptions } from './service.js';
export { MAIL_MAX_ATTEMPTS } from './delivery.js';
export { expiryReminder } from './scans.js';
export { isAddress } from './messages.js';
