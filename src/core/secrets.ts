import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * The server secret (`KEYWARDEN_SECRET`) is never used directly: each use gets its own subkey,
 * derived with HKDF-SHA-256 (RFC 5869) under a fixed salt and a purpose label. Knowing one
 * subkey (say, by reading it out of a crash dump of the webhook dispatcher) tells nothing about
 * another, and a new use never needs a new secret.
 */
export const SECRET_MIN_LENGTH = 32;

export type SubkeyPurpose = 'audit-chain' | 'webhook-secrets' | 'secret-check';

const SALT = 'keywarden/server-secret/v1';

export function deriveSubkey(secret: string, purpose: SubkeyPurpose): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), SALT, purpose, 32));
}

/** The subkeys a running server holds, derived once at start. */
export interface ServerKeys {
  /** HMAC-SHA-256 key of the audit chain. */
  auditChain: Buffer;
  /** AES-256-GCM key of webhook signing secrets at rest. */
  webhookSecrets: Buffer;
  /**
   * A public check value of the secret (an HMAC of a constant under its own subkey): kept in the
   * store, it lets a node refuse to start with a different secret than the store was made with,
   * and reveals nothing about the secret or the other subkeys.
   */
  check: string;
}

export function deriveServerKeys(secret: string): ServerKeys {
  if (secret.length < SECRET_MIN_LENGTH) {
    throw new Error(`the server secret must be at least ${SECRET_MIN_LENGTH} characters`);
  }
  return {
    auditChain: deriveSubkey(secret, 'audit-chain'),
    webhookSecrets: deriveSubkey(secret, 'webhook-secrets'),
    check: createHmac('sha256', deriveSubkey(secret, 'secret-check')).update('keywarden').digest('hex'),
  };
}

/** A new random server secret: 32 random bytes, base64url (43 characters). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

const SEALED = /^v1\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})$/;

/** True for a value `seal` produced (as opposed to a plaintext value kept before encryption existed). */
export function isSealed(stored: string): boolean {
  return SEALED.test(stored);
}

/**
 * AES-256-GCM with a random 96-bit nonce: `v1.<nonce>.<ciphertext+tag>` (base64url). `context`
 * (e.g. the row's id) is authenticated but not stored in the value, so a sealed value copied
 * onto another row does not open there.
 */
export function seal(key: Buffer, plaintext: string, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `v1.${iv.toString('base64url')}.${body.toString('base64url')}`;
}

/** Opens a `seal`ed value; throws when the key, the context or the value is not the one sealed. */
export function unseal(key: Buffer, stored: string, context: string): string {
  const m = SEALED.exec(stored);
  if (m?.[1] === undefined || m[2] === undefined) throw new Error('not a sealed value');
  const body = Buffer.from(m[2], 'base64url');
  if (body.length < 16) throw new Error('not a sealed value');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(m[1], 'base64url'));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(body.subarray(body.length - 16));
  return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString(
    'utf8',
  );
}
