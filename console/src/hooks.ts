import { useCallback, useEffect, useRef, useState } from 'react';
import { messageOf } from './api.js';

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload: () => void;
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
  const seq = useRef(0);
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
        setError(messageOf(e));
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
