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
 * Every key of this deployment's format in `text`, checksum-validated so that look-alikes
 * (examples, hashes, truncated copies) are ignored. Pure: shared by `POST /v1/leaks` and
 * `keywarden scan`.
 */
export function findKeys(text: string, prefix: string): FoundKey[] {
  const re = new RegExp(
    `(?<![0-9A-Za-z_])${prefix}_(?:prod|stg|dev|adm)_[0-9A-Za-z]{36,128}(?![0-9A-Za-z])`,
    'g',
  );
  const out: FoundKey[] = [];
  const seen = new Set<string>();
  let lineStarts: number[] | undefined;
  for (const m of text.matchAll(re)) {
    const key = m[0];
    const parsed = parseKey(key, prefix);
    if (parsed === null || seen.has(key)) continue;
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
