import { useEffect, useId, useState, type ReactNode } from 'react';
import { api, query, type KeyRecord, type Page } from '../api.js';
import { useDebounced, useLoad } from '../hooks.js';

/** Key names already read, by id: a name does not change often enough to ask twice per visit. */
const known = new Map<string, string>();

/**
 * The names of the keys `ids` (id → name), read once each (GET /v1/keys/{id}, in parallel); an id
 * this session may not read stays unnamed and is shown as the id.
 */
export function useKeyNames(ids: readonly string[]): Map<string, string> {
  const missing = [...new Set(ids)].filter((id) => !known.has(id)).slice(0, 50);
  const [, setTick] = useState(0);
  const wanted = missing.join(',');
  useEffect(() => {
    if (wanted === '') return;
    let live = true;
    void Promise.all(
      wanted.split(',').map((id) =>
        api<KeyRecord>('GET', `/v1/keys/${encodeURIComponent(id)}`).then(
          (k) => {
            known.set(k.id, k.name);
          },
          () => undefined,
        ),
      ),
    ).then(() => {
      if (live) setTick((t) => t + 1);
    });
    return () => {
      live = false;
    };
  }, [wanted]);
  return known;
}

/** Remembers names the caller learnt otherwise (lists it loaded). */
export function rememberKeyNames(keys: readonly { id: string; name: string }[]): void {
  for (const k of keys) known.set(k.id, k.name);
}

/**
 * What a key field names: `undefined` when empty (no filter), the id when the text is an id or a
 * key's exact name, `null` when no key has that name (the caller shows "no match" and asks nothing).
 */
export interface PickedKey {
  id: string | null | undefined;
  /** Names that contain the text, for the suggestions. */
  suggestions: { id: string; name: string }[];
  pending: boolean;
}

export function usePickedKey(text: string): PickedKey {
  const t = useDebounced(text.trim(), 200);
  const found = useLoad(
    () =>
      t === '' || t.startsWith('key_')
        ? Promise.resolve(null)
        : api<Page<KeyRecord>>('GET', `/v1/keys${query({ q: t, limit: 20 })}`),
    [t],
  );
  const suggestions = (found.data?.items ?? []).map((k) => ({ id: k.id, name: k.name }));
  rememberKeyNames(suggestions);
  const pending = t !== text.trim() || found.loading;
  if (t === '') return { id: undefined, suggestions: [], pending };
  if (t.startsWith('key_')) return { id: t, suggestions: [], pending };
  const exactMatch = suggestions.find((k) => k.name === t);
  return { id: exactMatch?.id ?? (pending ? undefined : null), suggestions, pending };
}

/** A text field with suggestions from `options` (a native datalist: typed, arrow keys, Enter). */
export function Suggest(props: {
  label: string;
  value: string;
  options: string[];
  placeholder?: string;
  onChange: (v: string) => void;
}): ReactNode {
  const listId = useId();
  return (
    <label>
      {props.label}
      <input
        value={props.value}
        list={listId}
        spellCheck={false}
        autoComplete="off"
        placeholder={props.placeholder}
        onChange={(e) => {
          props.onChange(e.target.value);
        }}
      />
      <datalist id={listId}>
        {props.options.map((o) => (
          <option key={o} value={o} />
        ))}
      </datalist>
    </label>
  );
}
