import { KeywardenError } from './errors.js';
import { masked, maskParts, parseKey, type ParsedKey } from './keys.js';

export interface FoundKey {
  /** The plaintext as found: callers hash it and drop it; never log or return it. */
  key: string;
  kind: ParsedKey['kind'];
  masked: string;
  line: number;
  column: number;
}

/**
 * The most distinct keys one `POST /v1/leaks` text may hold: each costs a hash and a lookup, and
 * the whole request must not hold the event loop for more than a few tens of milliseconds.
 * A real leak (a log, a paste, a diff) holds a handful; a text with more is refused (422).
 */
export const MAX_LEAK_KEYS = 200;

function tooMany(what: string, max: number): KeywardenError {
  return new KeywardenError(
    'VALIDATION_FAILED',
    `the text holds more than ${max} ${what}; report it in smaller parts`,
    422,
  );
}

/**
 * Every key of this deployment's format in `text`, checksum-validated so that look-alikes
 * (examples, hashes, truncated copies) are ignored. With `max`, a text with more than `max`
 * distinct keys, or more than ten times as many key-shaped strings, is refused (422) as soon as
 * the scan finds out, so the work of one call stays bounded. Pure: shared by `POST /v1/leaks` and
 * `keywarden scan`.
 */
export function findKeys(text: string, prefix: string, max = Infinity): FoundKey[] {
  const re = new RegExp(
    `(?<![0-9A-Za-z_])${prefix}_(?:prod|stg|dev|adm)_[0-9A-Za-z]{36,128}(?![0-9A-Za-z])`,
    'g',
  );
  const out: FoundKey[] = [];
  const seen = new Set<string>();
  let lineStarts: number[] | undefined;
  let candidates = 0;
  for (const m of text.matchAll(re)) {
    if (++candidates > max * 10) throw tooMany('key-shaped strings', max * 10);
    const key = m[0];
    const parsed = parseKey(key, prefix);
    if (parsed === null || seen.has(key)) continue;
    if (out.length >= max) throw tooMany('distinct keys', max);
    seen.add(key);
    lineStarts ??= computeLineStarts(text);
    const at = m.index;
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((lineStarts[mid] ?? 0) <= at) lo = mid;
      else hi = mid - 1;
    }
    const { start, end } = maskParts(key);
    out.push({
      key,
      kind: parsed.kind,
      masked: masked(start, end),
      line: lo + 1,
      column: at - (lineStarts[lo] ?? 0) + 1,
    });
  }
  return out;
}

function computeLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** A gitleaks rule for this deployment's keys (the checksum cannot be expressed there; the entropy bound filters noise). */
export function gitleaksRule(prefix: string): string {
  return [
    '[[rules]]',
    `id = "keywarden-${prefix}-api-key"`,
    `description = "Keywarden API key (${prefix}_prod_/stg_/dev_/adm_)"`,
    `regex = '''\\b(${prefix}_(?:prod|stg|dev|adm)_[0-9A-Za-z]{36,128})\\b'''`,
    'secretGroup = 1',
    'entropy = 3.5',
    `keywords = ["${prefix}_prod_", "${prefix}_stg_", "${prefix}_dev_", "${prefix}_adm_"]`,
    '',
  ].join('\n');
}
