import { KeywardenError } from '../core/errors.js';
import type { KeyInput } from '../core/key-input.js';
import { maskParts, parseKey } from '../core/keys.js';
import type { Actor } from '../core/model.js';
import { findByHash } from '../storage/keys-repo.js';
import { nowIso, type ServiceContext } from './context.js';
import { IMPORTED_SIGNAL, ImportedKeys, importDigest } from './imported-keys.js';
import type { ImportedSecret, KeysService } from './keys-service.js';
import { hashOfDigest } from '../core/keys.js';

/** The SHA-256 of an existing key, as another system stored it. */
export interface ImportHash {
  algorithm: 'sha256';
  encoding: 'hex' | 'base64';
  value: string;
}

/** One key to import: a key record plus its plaintext (`key`) or its hash (`hash`), not both. */
export interface ImportItem extends KeyInput {
  key?: string;
  hash?: ImportHash;
}

export type ImportOutcome =
  | { index: number; status: 'imported'; id: string; name: string }
  | { index: number; status: 'refused'; code: string; detail: string; name?: string };

export interface ImportResult {
  imported: number;
  refused: number;
  items: ImportOutcome[];
}

export const MAX_IMPORT = 1000;
/** Shortest plaintext accepted: shorter strings are guessable and should be regenerated instead. */
export const MIN_IMPORTED_KEY_LENGTH = 16;

const refuse = (detail: string): KeywardenError => new KeywardenError('VALIDATION_FAILED', detail, 422);

/**
 * Imports keys that already exist elsewhere (docs/import.md), item by item: each item is
 * created whole (record, secret, roles and its `key.import` audit row in one transaction) or
 * refused with the reason; one refusal does not affect the others.
 */
export class ImportService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly keys: KeysService,
    private readonly state: ImportedKeys,
  ) {}

  /** `items[i]` is either an item or the reason its shape was refused (checked by the HTTP layer). */
  async importKeys(
    actor: Actor,
    items: readonly (ImportItem | { invalid: string })[],
  ): Promise<ImportResult> {
    if (items.length > MAX_IMPORT)
      throw new KeywardenError(
        'VALIDATION_FAILED',
        `at most ${MAX_IMPORT} keys per call; ${items.length} were given`,
      );
    const out: ImportOutcome[] = [];
    const hashes: string[] = [];
    let marked = false;
    for (const [index, item] of items.entries()) {
      // Let verifications in between: with SQLite each insert runs on this thread.
      if (index % 8 === 7) await new Promise<void>((resolve) => setImmediate(resolve));
      if ('invalid' in item) {
        out.push({ index, status: 'refused', code: 'VALIDATION_FAILED', detail: item.invalid });
        continue;
      }
      try {
        const { key, hash, ...input } = item;
        const secret = this.secretOf(input.environment, key, hash);
        const existing = await findByHash(this.ctx.storage.db, secret.hash);
        if (existing !== null)
          throw new KeywardenError('CONFLICT', 'a key with this secret already exists in this deployment');
        if (!marked) {
          // Before the first insert: from now on this node looks up strings outside the format.
          await ImportedKeys.mark(this.ctx.storage.db);
          this.state.present = true;
          marked = true;
        }
        const { record } = await this.keys.create(actor, input, secret);
        hashes.push(secret.hash);
        out.push({ index, status: 'imported', id: record.id, name: record.name });
      } catch (err) {
        if (!(err instanceof KeywardenError)) throw err;
        out.push({ index, status: 'refused', code: err.code, detail: err.detail, name: item.name });
      }
    }
    // A string presented before its import may have a negative entry: drop it here, and have
    // the other nodes drop theirs (they also start looking such strings up, if they did not).
    for (const h of hashes) this.ctx.cache.invalidateHash(h);
    if (hashes.length > 0) {
      await this.ctx.bus.publish(IMPORTED_SIGNAL).catch((err: unknown) => {
        this.ctx.log.warn({ err, at: nowIso(this.ctx) }, 'could not tell other nodes about imported keys');
      });
    }
    const imported = out.filter((o) => o.status === 'imported').length;
    return { imported, refused: out.length - imported, items: out };
  }

  /** The stored hash and display parts of an item's secret (422 when it cannot be imported). */
  private secretOf(environment: KeyInput['environment'], key?: string, hash?: ImportHash): ImportedSecret {
    if ((key === undefined) === (hash === undefined))
      throw refuse(
        'give the key either as plaintext ("key") or as its SHA-256 ("hash"), exactly one of them',
      );
    if (key !== undefined) {
      if (key.length < MIN_IMPORTED_KEY_LENGTH)
        throw refuse(
          `the key is shorter than ${MIN_IMPORTED_KEY_LENGTH} characters: too guessable to import; issue a new key instead`,
        );
      if (hasSpaceOrControl(key)) throw refuse('the key contains whitespace or control characters');
      const parsed = parseKey(key, this.ctx.prefix);
      if (parsed?.kind === 'admin')
        throw refuse('this is an admin key (_adm_): admin keys cannot be imported as API keys');
      if (parsed !== null) {
        // Already in this deployment's format: stored as Keywarden stores its own keys.
        if (parsed.kind !== environment)
          throw refuse(`the key is a ${parsed.kind} key by its format but the record says ${environment}`);
        return { hash: this.ctx.hasher(key), ...maskParts(key), from: 'plaintext' };
      }
      const shown = key.length >= 24 ? 4 : 2;
      return {
        hash: hashOfDigest(importDigest(key)),
        start: key.slice(0, shown),
        end: key.slice(-shown),
        from: 'plaintext',
      };
    }
    const h = hash as ImportHash;
    const bytes = h.encoding === 'hex' ? hexBytes(h.value) : base64Bytes(h.value);
    if (bytes === undefined)
      throw refuse(`hash.value is not the ${h.encoding} encoding of a 32-byte SHA-256 digest`);
    return { hash: bytes.toString('base64url'), start: 'imported', end: '', from: 'hash' };
  }
}

function hexBytes(v: string): Buffer | undefined {
  return /^[0-9a-fA-F]{64}$/.test(v) ? Buffer.from(v, 'hex') : undefined;
}

/** Standard or URL-safe base64, padded or not; anything Node would silently skip is refused. */
function base64Bytes(v: string): Buffer | undefined {
  const canonical = v.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  const b = Buffer.from(canonical, 'base64url');
  return b.length === 32 && b.toString('base64url') === canonical ? b : undefined;
}

/** True when `s` has whitespace or an ASCII control character (not a key another system would issue). */
function hasSpaceOrControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c === 127) return true;
  }
  return /\s/.test(s);
}
