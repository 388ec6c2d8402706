import { createHmac, hash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { Environment } from './codes.js';

export { ENVIRONMENTS, type Environment } from './codes.js';

/**
 * Key format (SPEC §1): `<prefix>_<env>_<body><checksum>`.
 * The checksum is CRC32 of `prefix_env_body` in 6 base62 characters, so a typo or an invented
 * string is rejected without touching storage.
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

const IS_BASE62 = new Uint8Array(128);
for (const c of BASE62) IS_BASE62[c.charCodeAt(0)] = 1;
const BASE62_CODES = Uint8Array.from(BASE62, (c) => c.charCodeAt(0));

/** CRC-32 (IEEE, zlib's) lookup table, for checking keys without encoding them to a buffer. */
const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}

/** CRC-32 of `s[0, end)`, equal to zlib's for ASCII text (the only text parseKey checksums). */
function crc32Ascii(s: string, end: number): number {
  let c = -1;
  for (let i = 0; i < end; i++) c = (CRC_TABLE[(c ^ s.charCodeAt(i)) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ -1) >>> 0;
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
  if (len > MAX_KEY_LENGTH || len < prefix.length + 5 + BODY_LENGTH + CHECKSUM_LENGTH) return null;
  if (!key.startsWith(prefix) || key.charCodeAt(prefix.length) !== 95 /* _ */) return null;
  const envStart = prefix.length + 1;
  const envEnd = key.indexOf('_', envStart);
  if (envEnd < 0) return null;
  const kind = envOf(key, envStart, envEnd);
  if (kind === undefined) return null;
  const restStart = envEnd + 1;
  if (len - restStart < BODY_LENGTH + CHECKSUM_LENGTH) return null;
  for (let i = restStart; i < len; i++) {
    const c = key.charCodeAt(i);
    if (c >= 128 || IS_BASE62[c] === 0) return null;
  }
  // The checksummed part is ASCII (prefix, env code, base62 body): its CRC is computed in place and
  // compared digit by digit, so rejecting a mistyped key allocates nothing.
  const cut = len - CHECKSUM_LENGTH;
  let n = crc32Ascii(key, cut);
  for (let i = len - 1; i >= cut; i--) {
    if (key.charCodeAt(i) !== BASE62_CODES[n % 62]) return null;
    n = Math.floor(n / 62);
  }
  return { prefix, kind };
}

/** The environment code between `start` and `end`, compared in place (no substring). */
function envOf(key: string, start: number, end: number): Environment | 'admin' | undefined {
  const len = end - start;
  if (len === 4) return key.startsWith('prod', start) ? 'production' : undefined;
  if (len !== 3) return undefined;
  if (key.startsWith('dev', start)) return 'development';
  if (key.startsWith('stg', start)) return 'staging';
  if (key.startsWith('adm', start)) return 'admin';
  return undefined;
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
 * How keys are stored: SHA-256, or HMAC-SHA-256 with a server-side pepper so that a stolen
 * database alone cannot be used to test guesses. base64url keeps cache entries small.
 */
export type KeyHasher = (key: string) => string;

export function createHasher(pepper?: string): KeyHasher {
  if (pepper !== undefined && pepper !== '') {
    return (key) => createHmac('sha256', pepper).update(key).digest('base64url');
  }
  // One-shot hash (Node ≥ 20.12): no Hash object per call, about twice as fast for a key's size.
  return (key) => hash('sha256', key, 'base64url');
}
