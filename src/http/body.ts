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

/**
 * Parses a JSON body strictly: invalid UTF-8, invalid JSON, prototype-poisoning keys and lone
 * surrogates are all 400s with a precise detail. An empty body is "no body". It runs on every
 * verification request, hence the shortcuts below (docs/hot-path.md#http-per-request).
 */
export function parseJsonBody(buf: Buffer): unknown {
  if (buf.length === 0) return undefined;
  // isUtf8 validates in native code without building a string; toString then cannot be lossy.
  if (!isUtf8(buf)) throw new KeywardenError('INVALID_JSON', 'the body is not valid UTF-8');
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
