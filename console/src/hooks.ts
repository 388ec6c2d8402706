import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { api, connection, isNetworkError, messageOf, query, type Page } from './api.js';

export interface Loaded<T> {
  data: T | null;
  /** The server's answer when it refused; null when the server could not be reached (the shell says so, once). */
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/** Whether Keywarden answered the last call (see `connection` in api.ts). */
export function useReachable(): boolean {
  return useSyncExternalStore(connection.subscribe, connection.reachable);
}

/**
 * Runs `load` when `deps` change and on `reload()`; an answer that arrives after a newer request
 * started is dropped, so fast typing in a filter never shows stale rows.
 */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const [lostAt, setLostAt] = useState(false);
  const seq = useRef(0);
  const reachable = useReachable();
  // A view that failed because the server was away loads again, by itself, once it answers.
  useEffect(() => {
    if (reachable && lostAt) {
      setLostAt(false);
      setTick((t) => t + 1);
    }
  }, [reachable, lostAt]);
  useEffect(() => {
    const mine = ++seq.current;
    setLoading(true);
    setError(null);
    load().then(
      (d) => {
        if (mine !== seq.current) return;
        setData(d);
        setLoading(false);
      },
      (e: unknown) => {
        if (mine !== seq.current) return;
        // Rows of an earlier request beside this error would be taken for its answer.
        setData(null);
        if (isNetworkError(e)) setLostAt(true);
        setError(isNetworkError(e) ? null : messageOf(e));
        setLoading(false);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the caller names what `load` reads
  }, [...deps, tick]);
  const reload = useCallback(() => {
    setTick((t) => t + 1);
  }, []);
  return { data, error, loading, reload };
}

export interface LoadedMore<T> {
  /** The rows of every page loaded so far, in the server's order; null until the first answers. */
  items: T[] | null;
  /** The first page's refusal, or the last "load more"'s. */
  error: string | null;
  loading: boolean;
  /** True while there are rows after the last one shown. */
  hasMore: boolean;
  loadMore: () => void;
  reload: () => void;
}

/**
 * A cursor-paginated list (`{items, nextCursor}`) read page after page into one list ("Load
 * more"): `path` (null: nothing to read yet) is read first; each `loadMore` appends the next page.
 * A new `path` or `reload()` starts again from the first page.
 */
export function useLoadMore<T>(path: string | null, limit = 50): LoadedMore<T> {
  const first = useLoad(
    () => (path === null ? Promise.resolve(null) : api<Page<T>>('GET', `${path}${query({ limit })}`)),
    [path, limit],
  );
  // The pages after the first (and a failure to read one), kept only while they extend the same first page.
  const [more, setMore] = useState<{
    of: Page<T> | null;
    items: T[];
    next: string | null;
    error: string | null;
  }>({ of: null, items: [], next: null, error: null });
  const [busy, setBusy] = useState(false);
  const extending = first.data !== null && more.of === first.data;
  const next = extending ? more.next : (first.data?.nextCursor ?? null);
  const loadMore = (): void => {
    const of = first.data;
    if (path === null || of === null || next === null || busy) return;
    const base = (m: typeof more): typeof more =>
      m.of === of ? m : { of, items: [], next: of.nextCursor, error: null };
    setBusy(true);
    api<Page<T>>('GET', `${path}${query({ limit, cursor: next })}`).then(
      (p) => {
        setBusy(false);
        setMore((m) => ({ of, items: [...base(m).items, ...p.items], next: p.nextCursor, error: null }));
      },
      (e: unknown) => {
        setBusy(false);
        // Unreachable: the shell's banner says so; the button stays for another try.
        setMore((m) => ({ ...base(m), error: isNetworkError(e) ? null : messageOf(e) }));
      },
    );
  };
  return {
    items: first.data === null ? null : [...first.data.items, ...(extending ? more.items : [])],
    error: first.error ?? (extending ? more.error : null),
    loading: first.loading || busy,
    hasMore: next !== null,
    loadMore,
    reload: first.reload,
  };
}

/** A value that follows `value` after `ms` without changes (search boxes). */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => {
      setV(value);
    }, ms);
    return () => {
      clearTimeout(t);
    };
  }, [value, ms]);
  return v;
}

/** The part of the URL after `#`, kept in state: the console's router. */
export function useHashRoute(): string {
  const read = (): string => {
    const raw = window.location.hash.replace(/^#/, '');
    try {
      return decodeURIComponent(raw) || '/keys';
    } catch {
      return raw || '/keys'; // a malformed escape in a hand-typed URL
    }
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = (): void => {
      setRoute(read());
    };
    window.addEventListener('hashchange', on);
    return () => {
      window.removeEventListener('hashchange', on);
    };
  }, []);
  return route;
}

export function navigate(to: string): void {
  window.location.hash = to;
}
