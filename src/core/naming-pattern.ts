import { RE2JS, RE2JSException } from 're2js';

/** The longest naming pattern a policy may hold. */
export const MAX_NAMING_PATTERN_LENGTH = 256;

/** Compiled patterns by source: a policy holds one, the console's editor a few while typing. */
const compiled = new Map<string, RE2JS>();
const MAX_COMPILED = 32;

/**
 * Naming patterns run on RE2 (re2js, pure JavaScript): matching takes time linear in the name, so
 * no pattern can stall the event loop however it nests (`^(a+)+$` included). RE2 has no
 * backreferences and no lookaround; such a pattern is refused, never run on a backtracking engine.
 * Returns why `pattern` is refused, or null when it is usable. Used by the server and the console.
 */
export function namingPatternProblem(pattern: string): string | null {
  if (pattern.length === 0) return 'naming.pattern is empty';
  if (pattern.length > MAX_NAMING_PATTERN_LENGTH) {
    return `naming.pattern is ${pattern.length} characters long; at most ${MAX_NAMING_PATTERN_LENGTH} are allowed`;
  }
  try {
    compile(pattern);
    return null;
  } catch (err) {
    const why = err instanceof RE2JSException ? err.message : 'it does not compile';
    return `naming.pattern is not a valid RE2 regular expression (no backreferences or lookaround): ${why}`;
  }
}

function compile(pattern: string): RE2JS {
  let re = compiled.get(pattern);
  if (re === undefined) {
    if (pattern.length > MAX_NAMING_PATTERN_LENGTH) throw new RangeError('naming pattern too long');
    re = RE2JS.compile(pattern);
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

/**
 * Whether `name` matches `pattern` anywhere (as `RegExp.prototype.test` would; anchor with ^ $),
 * or null when the pattern itself is refused (a policy stored before patterns were checked).
 */
export function matchesNamingPattern(pattern: string, name: string): boolean | null {
  if (namingPatternProblem(pattern) !== null) return null;
  return compile(pattern).test(name);
}
