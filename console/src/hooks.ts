import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { connection, isNetworkError, messageOf } from './api.js';

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
