import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export { AUDIT_ACTIONS, type AuditAction } from './codes.js';

export interface AuditContent {
  id: number;
  at: string;
  actor: string | null;
  action: string;
  target: string | null;
  before: string | null;
  after: string | null;
  ip: string | null;
}

/** The row's canonical content plus the previous row's hash: a JSON array, so field boundaries are unambiguous. */
function canonical(row: AuditContent, prevHash: string): string {
  return JSON.stringify([
    row.id,
    row.at,
    row.actor,
    row.action,
    row.target,
    row.before,
    row.after,
    row.ip,
    prevHash,
  ]);
}

/**
 * The chain's link: HMAC-SHA-256, under a key derived from the server secret, over the row's
 * canonical content and the previous row's hash. Editing, deleting or reordering any row breaks
 * every link after it, and without the key nobody can compute a link that verifies, so rows
 * rewritten with plain SHA-256 (or any other key) are found at the first such row.
 */
export function auditHash(key: Buffer, row: AuditContent, prevHash: string): string {
  return createHmac('sha256', key).update(canonical(row, prevHash)).digest('hex');
}

/**
 * The link of rows written before the chain was keyed (plain SHA-256 over the same canonical
 * form). Only rows below the store's recorded switch-over row are checked with it.
 */
export function legacyAuditHash(row: AuditContent, prevHash: string): string {
  return createHash('sha256').update(canonical(row, prevHash)).digest('hex');
}

/** The seal of the switch-over row number: an attacker cannot move it to pass keyed rows off as legacy ones. */
export function switchOverTag(key: Buffer, firstKeyedRow: number): string {
  return createHmac('sha256', key).update(`audit.keyed_from:${firstKeyedRow}`).digest('hex');
}

/** Constant-time comparison of two hex digests. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
