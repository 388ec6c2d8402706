import { createHmac, hash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { Environment } from './codes.js';

export { ENVIRONMENTS, type Environment } from './codes.js';

/**
 * Key format (SPEC §1): `<prefix>_<env>_<body><checksum>`.
 * The checksum is CRC32 of `prefix_env_body` in 6 base62 characters, so a typo or an invented
 * string is rejected without touching storage.
 *
 * This check and the hashers are on every verification's path; why they are written as they are
 * (in-place CRC, one-shot hash, byte-string digests), with measurements and the tests that guard
 * them: docs/hot-path.md#key-check-without-allocation.
 */
export type KeyEnvCode = 'prod' | 'stg' | 'dev' | 'adm';

export const ENV_CODE: Record<Environment, KeyEnvCode> = {
  production: 'prod',
  staging: 'stg',
  development: 'dev',
};

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 30 base62 characters carry 178.6 bits. */
export const BODY_LENGTH = 30;
export const CHECKSUM_LENGTH = 6;
export const MAX_KEY_LENGTH = 512;
export const PREFIX_PATTERN = /^[a-z0-9]{1,10}$/;

/** Each ASCII character's base62 digit value, -1 for characters outside the alphabet. */
const BASE62_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE62.length; i++) BASE62_VALUE[BASE62.charCodeAt(i)] = i;

/**
 * CRC-32 (IEEE, zlib's) lookup tables for slicing by 4: table k (at k × 256) advances the CRC
 * by a byte followed by k zero bytes, so four characters cost four independent lookups instead
 * of a chain of four dependent ones. Keys are checked without encoding them to a buffer.
 */
const CRC_TABLES = new Int32Array(4 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLES[n] = c;
}
for (let n = 0; n < 3 * 256; n++) {
  const c = CRC_TABLES[n] ?? 0;
  CRC_TABLES[n + 256] = (c >>> 8) ^ (CRC_TABLES[c & 0xff] ?? 0);
}

/** The CRC-32 register after the characters `s[from, to)` (equal to zlib's for ASCII text). */
function crcBytes(c: number, s: string, from: number, to: number): number {
  for (let i = from; i < to; i++) c = (CRC_TABLES[(c ^ s.charCodeAt(i)) & 0xff] ?? 0) ^ (c >>> 8);
  return c;
}

const KINDS: readonly (Environment | 'admin')[] = ['production', 'staging', 'development', 'admin'];
const KIND_CODES: readonly KeyEnvCode[] = ['prod', 'stg', 'dev', 'adm'];
/**
 * The CRC register after `<prefix>_<env>_` for each environment code (in KINDS' order), for the
 * last prefix asked about: a deployment has one, so parseKey checksums only the body.
 */
let headPrefix: string | undefined;
const HEAD_CRC = new Int32Array(KIND_CODES.length);

function headCrc(prefix: string, kind: number): number {
  if (prefix !== headPrefix) {
    KIND_CODES.forEach((code, i) => {
      const head = `${prefix}_${code}_`;
      HEAD_CRC[i] = crcBytes(-1, head, 0, head.length);
    });
    headPrefix = prefix;
  }
  return HEAD_CRC[kind] ?? 0;
}

/** Uniform base62 string from the CSPRNG (rejection sampling: bytes ≥ 248 are discarded to avoid modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const bytes = randomBytes(length * 2);
    for (const b of bytes) {
      if (b < 248) out += BASE62.charAt(b % 62);
      if (out.length === length) break;
    }
  }
  return out;
}

export function checksum(text: string): string {
  let n = crc32(text);
  let s = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    s = BASE62.charAt(n % 62) + s;
    n = Math.floor(n / 62);
  }
  return s;
}

export interface ParsedKey {
  prefix: string;
  kind: Environment | 'admin';
}

/**
 * Checks format and checksum only (no storage). Returns null for anything that is not a key of
 * this deployment. Cheap enough to run on every verification before hashing.
 * @example parseKey('kw_prod_…', 'kw') // { prefix: 'kw', kind: 'production' }
 */
export function parseKey(key: string, prefix: string): ParsedKey | null {
  const len = key.length;
  const at = prefix.length;
  if (len > MAX_KEY_LENGTH || len < at + 5 + BODY_LENGTH + CHECKSUM_LENGTH) return null;
  // Compared character by character: cheaper than startsWith/indexOf calls for a few characters.
  for (let i = 0; i < at; i++) if (key.charCodeAt(i) !== prefix.charCodeAt(i)) return null;
  if (key.charCodeAt(at) !== 95 /* _ */) return null;
  const kind = kindAt(key, at + 1);
  if (kind < 0) return null;
  const restStart = at + (kind === 0 ? 6 : 5);
  if (len - restStart < BODY_LENGTH + CHECKSUM_LENGTH) return null;
  // The head was compared above, so its CRC is the prefix's and environment's (computed once).
  // Body and checksum must be base62; the body's CRC is computed in place, four characters at a
  // time, and the checksum's digits are read as a number: rejecting a mistyped key allocates nothing.
  const cut = len - CHECKSUM_LENGTH;
  let c = headCrc(prefix, kind);
  let i = restStart;
  for (; i + 4 <= cut; i += 4) {
    const a = key.charCodeAt(i);
    const b = key.charCodeAt(i + 1);
    const d = key.charCodeAt(i + 2);
    const e = key.charCodeAt(i + 3);
    if ((a | b | d | e) >= 128) return null;
    if (
      (BASE62_VALUE[a] ?? -1) < 0 ||
      (BASE62_VALUE[b] ?? -1) < 0 ||
      (BASE62_VALUE[d] ?? -1) < 0 ||
      (BASE62_VALUE[e] ?? -1) < 0
    ) {
      return null;
    }
    c ^= a | (b << 8) | (d << 16) | (e << 24);
    c =
      (CRC_TABLES[768 + (c & 0xff)] ?? 0) ^
      (CRC_TABLES[512 + ((c >>> 8) & 0xff)] ?? 0) ^
      (CRC_TABLES[256 + ((c >>> 16) & 0xff)] ?? 0) ^
      (CRC_TABLES[c >>> 24] ?? 0);
  }
  for (; i < cut; i++) {
    const a = key.charCodeAt(i);
    if (a >= 128 || (BASE62_VALUE[a] ?? -1) < 0) return null;
    c = (CRC_TABLES[(c ^ a) & 0xff] ?? 0) ^ (c >>> 8);
  }
  // Six base62 digits encode any CRC-32 (62^6 > 2^32) in exactly one way.
  let sum = 0;
  for (let j = cut; j < len; j++) {
    const a = key.charCodeAt(j);
    const digit = a < 128 ? (BASE62_VALUE[a] ?? -1) : -1;
    if (digit < 0) return null;
    sum = sum * 62 + digit;
  }
  if (sum !== (c ^ -1) >>> 0) return null;
  return { prefix, kind: KINDS[kind] ?? 'admin' };
}

/**
 * The environment code at `i` followed by `_`, as an index into KINDS (prod, stg, dev, adm), or -1.
 * `prod_` is five characters, the others four.
 */
function kindAt(key: string, i: number): number {
  const a = key.charCodeAt(i);
  const b = key.charCodeAt(i + 1);
  const c = key.charCodeAt(i + 2);
  const d = key.charCodeAt(i + 3);
  if (a === 112 && b === 114 && c === 111 && d === 100) return key.charCodeAt(i + 4) === 95 ? 0 : -1;
  if (d !== 95) return -1;
  if (a === 115 && b === 116 && c === 103) return 1; // stg
  if (a === 100 && b === 101 && c === 118) return 2; // dev
  if (a === 97 && b === 100 && c === 109) return 3; // adm
  return -1;
}

export function generateKey(prefix: string, env: KeyEnvCode): string {
  const head = `${prefix}_${env}_${randomBase62(BODY_LENGTH)}`;
  return head + checksum(head);
}

/** Masked display parts: `start` = prefix, env and 4 body characters; `end` = last 4 characters. */
export function maskParts(key: string): { start: string; end: string } {
  const envEnd = key.indexOf('_', key.indexOf('_') + 1);
  return { start: key.slice(0, envEnd + 5), end: key.slice(-4) };
}

export function masked(start: string, end: string): string {
  return `${start}…${end}`;
}

/**
 * Anything shaped like a key of this format (any prefix; API and admin keys), also cut short,
 * where text quotes a caller's input: a key pasted into the wrong field, or into a path. Not
 * preceded by a letter or digit (an underscore may precede it: `tenant_kw_prod_…`).
 */
const KEY_SHAPE = /(?<![a-z0-9])([a-z0-9]{1,10}_(?:prod|stg|dev|adm)_[0-9A-Za-z]{4})[0-9A-Za-z]+/g;

/**
 * `text` with every key-shaped string cut to its public start (`kw_prod_4fTq…`): for error details
 * and logs that quote input, so that a key given where something else was expected is never
 * echoed or logged whole. Loose on purpose (any length past the start: a truncated key too); a
 * public start alone is left as it is.
 */
export function withoutKeys(text: string): string {
  return text.replace(KEY_SHAPE, '$1…');
}

/** A whole key: prefix, environment, 36 characters, nothing alphanumeric around it. */
const WHOLE_KEY = /(?<![0-9A-Za-z])([a-z0-9]{1,10})_(?:prod|stg|dev|adm)_[0-9A-Za-z]{36}(?![0-9A-Za-z])/g;

/**
 * Whether `text` holds a key of this format with a valid checksum (any prefix; API and admin
 * keys): what input that is stored must not hold. Strict, so that ids which merely look alike
 * (`db_prod_clusterAlpha01234567`) are not refused; the shortest match is 42 characters.
 */
export function holdsKey(text: string): boolean {
  if (text.length < 42) return false;
  for (const m of text.matchAll(WHOLE_KEY)) if (parseKey(m[0], m[1] ?? '') !== null) return true;
  return false;
}

/**
 * How keys are stored: SHA-256, or HMAC-SHA-256 with a server-side pepper so that a stolen
 * database alone cannot be used to test guesses. base64url keeps cache entries small.
 */
export type KeyHasher = (key: string) => string;

export function createHasher(pepper?: string): KeyHasher {
  if (pepper !== undefined && pepper !== '') {
    return (key) => createHmac('sha256', pepper).update(key).digest('base64url');
  }
  // One-shot hash (Node ≥ 20.12): no Hash object per call (docs/hot-path.md).
  return (key) => hash('sha256', key, 'base64url');
}

/**
 * The same digest as the hasher's, as 32 one-byte characters (`'binary'`, i.e. latin1): what the
 * verification cache is keyed by. No base64 encoding on the hot path, and each character is one
 * byte of the digest, read in place. `hashOfDigest` turns it into the stored form on a miss.
 */
export type KeyDigester = (key: string) => string;

export function createDigester(pepper?: string): KeyDigester {
  if (pepper !== undefined && pepper !== '') {
    return (key) => createHmac('sha256', pepper).update(key).digest('binary');
  }
  return (key) => hash('sha256', key, 'binary');
}

/** The hasher's (stored) form of a digester's digest. */
export function hashOfDigest(digest: string): string {
  return Buffer.from(digest, 'latin1').toString('base64url');
}

/**
 * The digest a stored hash encodes, or undefined if it is not the base64url of 32 bytes (no
 * hasher makes such a hash, so no cache entry can have it).
 */
export function digestOfHash(hash: string): string | undefined {
  if (hash.length !== 43) return undefined;
  const bytes = Buffer.from(hash, 'base64url');
  // Buffer.from skips characters outside the alphabet: a round trip proves the text was canonical.
  if (bytes.length !== 32 || bytes.toString('base64url') !== hash) return undefined;
  return bytes.toString('latin1');
}

/**
 * Why `key` is not a key of this deployment, for a `MALFORMED` answer's detail. Only called once
 * parseKey refused the key (or found an admin key), so it may be slow. Never echoes the key or
 * any part of it: it names the kind of mistake only.
 */
export function malformedReason(key: string, prefix: string): string {
  if (key.length === 0) return 'the key is empty';
  if (key.length > MAX_KEY_LENGTH) return `the key is longer than ${MAX_KEY_LENGTH} characters`;
  if (/^\s*bearer\s/i.test(key)) {
    return 'the key starts with "Bearer ": send the key alone (the prefix belongs in the Authorization header)';
  }
  if (key.trim() !== key) return 'the key has leading or trailing whitespace';
  if (/\s/.test(key)) return 'the key contains whitespace';
  const m = /^([a-z0-9]+)_([a-z]+)_/.exec(key);
  if (m === null) return `the key does not have the form ${prefix}_<env>_<secret>`;
  if (m[1] !== prefix) return `the key does not have this deployment's prefix (${prefix}_)`;
  if (m[2] === 'adm') {
    return 'this is an admin key (_adm_); admin keys manage Keywarden and are never accepted as API keys';
  }
  if (m[2] !== 'prod' && m[2] !== 'stg' && m[2] !== 'dev') {
    return 'the key has an unknown environment segment (expected prod, stg or dev)';
  }
  const rest = key.length - m[0].length;
  if (rest < BODY_LENGTH + CHECKSUM_LENGTH) {
    return `the key is too short (${key.length} characters; a ${m[2]} key has ${m[0].length + BODY_LENGTH + CHECKSUM_LENGTH})`;
  }
  if (!/^[0-9A-Za-z]+$/.test(key.slice(m[0].length))) {
    return 'the key contains characters outside the base62 alphabet';
  }
  return 'the key checksum does not match (mistyped, truncated or invented)';
}
