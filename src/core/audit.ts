import { createHash } from 'node:crypto';

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

/**
 * SHA-256 over the row's canonical content plus the previous row's hash: editing, deleting or
 * reordering any row breaks every hash after it. The canonical form is a JSON array, so field
 * boundaries are unambiguous.
 */
export function auditHash(row: AuditContent, prevHash: string): string {
  const canonical = JSON.stringify([
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
  return createHash('sha256').update(canonical).digest('hex');
}
