/**
 * The building blocks of the configuration table (src/config.ts): one entry per environment
 * variable carries what is documented (type, default, allowed values, description, doc link)
 * and how it is parsed, so the parser, `keywarden serve --help` and the README's table cannot
 * drift apart. Every parser fails fast with a ConfigError that names the variable; values that
 * may hold credentials (URLs, secrets, tokens) are never echoed in the message.
 */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type Env = Record<string, string | undefined>;

/** One environment variable: its documentation and its parser. */
export interface Setting<T> {
  readonly name: `KEYWARDEN_${string}`;
  /** Shown in the docs: integer, boolean, enum, string, URL, path, secret, list. */
  readonly type: string;
  /** The default as documented (markdown: values in backticks); '' when unset means "off" or "none". */
  readonly default: string;
  /** Allowed values or range, as documented. */
  readonly range: string;
  readonly description: string;
  /** The page (under docs/) that explains the setting, if any. */
  readonly doc: string | undefined;
  /** Reads the variable from `env`, filling in the default; throws a ConfigError naming it. */
  parse(env: Env): T;
}

interface Doc {
  name: `KEYWARDEN_${string}`;
  description: string;
  doc?: string;
}

/** Unset and empty are the same: the default applies. */
function raw(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

function setting<T>(d: Doc, type: string, def: string, range: string, parse: (env: Env) => T): Setting<T> {
  return { name: d.name, type, default: def, range, description: d.description, doc: d.doc, parse };
}

const code = (v: string): string => `\`${v}\``;

/** A whole number in [min, max]. */
export function integer(d: Doc & { default: number; min: number; max: number }): Setting<number> {
  return setting(d, 'integer', code(String(d.default)), `${d.min}–${d.max}`, (env) => {
    const v = raw(env, d.name);
    if (v === undefined) return d.default;
    if (!/^\d+$/.test(v)) throw new ConfigError(`${d.name} must be a whole number, got "${v}"`);
    const n = Number(v);
    if (n < d.min || n > d.max) {
      throw new ConfigError(`${d.name} must be between ${d.min} and ${d.max}, got ${n}`);
    }
    return n;
  });
}

/** `true`/`false` (also `1`/`0`, `yes`/`no`). */
export function boolean(d: Doc & { default: boolean }): Setting<boolean> {
  return setting(d, 'boolean', code(String(d.default)), '`true`, `false`', (env) => {
    const v = raw(env, d.name);
    if (v === undefined) return d.default;
    if (/^(1|true|yes)$/i.test(v)) return true;
    if (/^(0|false|no)$/i.test(v)) return false;
    throw new ConfigError(`${d.name} must be true or false, got "${v}"`);
  });
}

/**
 * One of a fixed list of values. `aliases` maps an old spelling to its value (accepted, not
 * documented as a choice); `emptyIsUnset: false` makes an empty value an error instead of the default.
 */
export function oneOf<const V extends readonly string[]>(
  d: Doc & {
    values: V;
    default: V[number];
    aliases?: Readonly<Record<string, V[number]>>;
    emptyIsUnset?: boolean;
  },
): Setting<V[number]> {
  const shown = d.values.map((v) => `\`${v}\``).join(', ');
  return setting(d, 'enum', code(d.default), shown, (env) => {
    const v = d.emptyIsUnset === false ? env[d.name] : raw(env, d.name);
    if (v === undefined) return d.default;
    const found = d.values.find((x) => x === v) ?? d.aliases?.[v];
    if (found !== undefined) return found;
    const choices =
      d.values.length === 2 ? `"${d.values[0]}" or "${d.values[1]}"` : `one of ${d.values.join(', ')}`;
    throw new ConfigError(`${d.name} must be ${choices}, got "${v}"`);
  });
}

interface TextRule {
  type?: string;
  /** Allowed values, as documented. */
  range: string;
  /** The check, and the rule the error message states ("must be …"). */
  valid: (v: string) => boolean;
  rule: string;
  /** Whether the error message may quote the value (never for URLs, secrets, tokens). */
  echo: boolean;
}

function check(d: Doc & TextRule, v: string): string {
  if (d.valid(v)) return v;
  throw new ConfigError(`${d.name} ${d.rule}${d.echo ? `, got "${v}"` : ''}`);
}

/** A string with a default. With `emptyIsUnset: false` an empty value is checked like any other. */
export function text(d: Doc & TextRule & { default: string; emptyIsUnset?: boolean }): Setting<string> {
  return setting(d, d.type ?? 'string', code(d.default), d.range, (env) => {
    const v = d.emptyIsUnset === false ? env[d.name] : raw(env, d.name);
    return v === undefined ? d.default : check(d, v);
  });
}

/** A string that may be unset (undefined); `shownDefault` documents what unset means. */
export function optional(d: Doc & TextRule & { shownDefault?: string }): Setting<string | undefined> {
  return setting(d, d.type ?? 'string', d.shownDefault ?? '', d.range, (env) => {
    const v = raw(env, d.name);
    return v === undefined ? undefined : check(d, v);
  });
}

/** A setting with its own parser (given the raw value, undefined when unset or empty). */
export function custom<T>(
  d: Doc & { type: string; default: string; range: string; parse: (v: string | undefined) => T },
): Setting<T> {
  return setting(d, d.type, d.default, d.range, (env) => d.parse(raw(env, d.name)));
}

/** Parses every entry of a table (in order: the first bad value stops it). */
export function parseAll<S extends Record<string, Setting<unknown>>>(
  table: S,
  env: Env,
): { [K in keyof S]: S[K] extends Setting<infer T> ? T : never } {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(table)) out[key] = s.parse(env);
  return out as { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };
}
