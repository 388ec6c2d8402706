/**
 * Webhooks, one file per job: `service.ts` (CRUD, and the facade the rest of the app holds),
 * `events.ts` (emission into delivery rows), `delivery.ts` (signed HTTP posts with retries over
 * `transport.ts`, which applies the SSRF rules), `scans.ts` (the expiry, credits and audit-anchor
 * jobs). Their queries live in storage/webhooks-repo.ts and storage/keys-repo.ts.
 */
export { WebhookService, type WebhookRecord } from './service.js';
export { WEBHOOK_EVENTS, type WebhookEvent } from './events.js';
export { MAX_ATTEMPTS, signPayload } from './delivery.js';
export type { Resolve } from './transport.js';
