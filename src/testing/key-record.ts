import type { KeyRecord } from '../core/model.js';

/** A stored key record for pure tests (verification, cache): a production key, active, with an owner. */
export function keyRecord(over: Partial<KeyRecord> = {}): KeyRecord {
  return {
    id: 'key_1',
    name: 'crm-prod-agent-call',
    environment: 'production',
    system: 'crm',
    purpose: 'agent-call',
    owner: { team: 'crm', contact: 'crm@example.com' },
    customerId: 'cus_7',
    identityId: null,
    permissions: ['agents:invoke:agt_42'],
    ratelimits: [],
    credits: null,
    ipAllowlist: ['203.0.113.0/24'],
    expiresAt: '2027-01-01T00:00:00.000Z',
    metadata: {},
    status: 'active',
    start: 'kw_prod_abcd',
    end: 'wxyz',
    createdAt: '2026-01-01T00:00:00.000Z',
    createdBy: 'adm_1',
    updatedAt: '2026-01-01T00:00:00.000Z',
    lastUsedAt: null,
    disabledAt: null,
    disabledReason: null,
    rotatedAt: null,
    version: 1,
    roles: [],
    imported: null,
    ...over,
  };
}
