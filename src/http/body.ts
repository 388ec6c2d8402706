import { isUtf8 } from 'node:buffer';
import sjson from 'secure-json-parse';
import { KeywardenError } from '../core/errors.js';

/** In unicode mode a surrogate range only matches a lone surrogate (a pair is one code point). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Throws if any string (key or value) holds a lone UTF-16 surrogate (`"\ud800"` is valid JSON,
 * not valid text) or a NUL (`"\u0000"`: PostgreSQL stores no NUL in text or jsonb, and no name,
 * owner or id needs one), so both databases refuse the same input with the same 400.
 */
function assertWellFormed(v: unknown, path: string): void {
  if (typeof v === 'string') {
    if (LONE_SURROGATE.test(v))
      throw new KeywardenError('INVALID_JSON', `${path} contains an unpaired UTF-16 surrogate`);
    if (v.includes('\u0000'))
      throw new KeywardenError('INVALID_JSON', `${path} contains a NUL character (\\u0000)`);
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => {
      assertWellFormed(x, `${path}[${i}]`);
    });
  } else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      if (LONE_SURROGATE.test(k))
        throw new KeywardenError('INVALID_JSON', `a field name in ${path} contains an unpaired surrogate`);
      if (k.includes('\u0000'))
        throw new KeywardenError('INVALID_JSON', `a field name in ${path} contains a NUL character`);
      assertWellFormed(x, `${path}.${k}`);
    }
  }
}

/** The deepest nesting of arrays and objects a body may have; no API input comes close. */
export const MAX_JSON_DEPTH = 32;

/**
 * The byte offset where `buf` nests arrays/objects deeper than `max`, or -1. One pass over the raw
 * bytes, before parsing, so that no recursive walk (ours, the prototype-poisoning scan, a later
 * JSON.stringify) ever sees a body deep enough to overflow the stack. UTF-8 continuation bytes
 * are all >= 0x80, so they never look like the ASCII brackets and quotes counted here.
 */
function depthExceededAt(buf: Buffer, max: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash: the next byte is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return -1;
}

/**
 * Parses a JSON body strictly: invalid UTF-8, nesting deeper than MAX_JSON_DEPTH, invalid JSON,
 * prototype-poisoning keys and lone surrogates are all 400s with a precise detail. An empty body is "no body".
 * It runs on every verification request, hence the shortcuts below (docs/hot-path.md#http-per-request).
 */
export function parseJsonBody(buf: Buffer): unknown {
  if (buf.length === 0) return undefined;
  // isUtf8 validates in native code without building a string; toString then cannot be lossy.
  if (!isUtf8(buf)) throw new KeywardenError('INVALID_JSON', 'the body is not valid UTF-8');
  const deep = depthExceededAt(buf, MAX_JSON_DEPTH);
  if (deep >= 0) {
    throw new KeywardenError(
      'INVALID_JSON',
      `the body nests arrays or objects more than ${MAX_JSON_DEPTH} levels deep (at byte ${deep})`,
    );
  }
  const text = buf.toString('utf8');
  let value: unknown;
  try {
    value = sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    const msg = err instanceof Error ? err.message : 'parse error';
    throw new KeywardenError('INVALID_JSON', `the body is not valid JSON: ${msg}`);
  }
  // Valid UTF-8 cannot encode a surrogate, and JSON cannot hold a raw NUL, so either can only come
  // from a \u escape: bodies without any (nearly all) skip the walk over every string.
  if (text.includes('\\u')) assertWellFormed(value, 'body');
  return value;
}
