import { hash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { getMeta, putMeta } from '../storage/meta-repo.js';
import type { Database } from '../storage/schema.js';

/** The invalidation-bus message that says "this store now holds imported keys" (docs/import.md). */
export const IMPORTED_SIGNAL = 'imported-keys';
const META = 'keys.imported';

/**
 * Whether strings outside this deployment's key format are looked up at all. False until a key
 * is imported (then true for good, kept in `meta`): a store without imported keys answers such
 * strings MALFORMED with no hashing or lookup, as before imports existed. Other nodes learn of a
 * first import from the bus (IMPORTED_SIGNAL) or, if they missed it, at their next start or
 * reconnection (`refresh`).
 */
export class ImportedKeys {
  present = false;

  async refresh(db: Kysely<Database>): Promise<void> {
    if (!this.present) this.present = (await getMeta(db, META)) !== undefined;
  }

  /** Records (in the import's transaction) that the store holds imported keys. */
  static async mark(db: Kysely<Database>): Promise<void> {
    await putMeta(db, META, '1');
  }
}

/**
 * The cache digest of a string outside this deployment's format: plain SHA-256 (no pepper: an
 * imported key's hash may have been computed elsewhere), as one-byte characters like a
 * KeyDigester's. Its base64url form is what key_secrets holds for such a key.
 */
export function importDigest(key: string): string {
  return hash('sha256', key, 'binary');
}
