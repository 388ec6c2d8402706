import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { messageOf } from '../api.js';
import { exact, relative, STATUS_LABEL } from '../format.js';
import type { KeyRecord } from '../api.js';

/**
 * A modal on the native <dialog>: the browser traps focus inside and Esc closes it. When it goes
 * away, focus returns to the control that opened it (a dialog removed while open would otherwise
 * leave focus on <body>, and a keyboard user lost).
 */
export function Dialog(props: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  wide?: boolean;
}): ReactNode {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (d === null || d.open) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    d.showModal();
    // showModal focuses the first control (the close button); a dialog may name a better start.
    d.querySelector<HTMLElement>('[data-autofocus]')?.focus();
    return () => {
      d.close();
      if (opener?.isConnected === true) opener.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      className={props.wide === true ? 'dialog wide' : 'dialog'}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <header className="dialog-head">
        <h2 id={titleId}>{props.title}</h2>
        <button type="button" className="icon" aria-label="Close" onClick={props.onClose}>
          ×
        </button>
      </header>
      {props.children}
    </dialog>
  );
}

export function ErrorNote({ error }: { error: string | null }): ReactNode {
  if (error === null) return null;
  return (
    <p className="error" role="alert">
      {error}
    </p>
  );
}

export function Loading({ what }: { what: string }): ReactNode {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }): ReactNode {
  return <p className="empty">{children}</p>;
}

export function EnvBadge({ env }: { env: string }): ReactNode {
  return <span className={`badge env-${env}`}>{env}</span>;
}

export function StatusBadge({ status }: { status: KeyRecord['status'] }): ReactNode {
  return (
    <span className={`badge status-${status}`} title={status}>
      {STATUS_LABEL[status]}
    </span>
  );
}

/** Relative time with the exact time on hover (and for screen readers, in the datetime). */
export function When({
  at,
  never = 'never',
  full = false,
}: {
  at: string | null;
  never?: string;
  full?: boolean;
}): ReactNode {
  if (at === null) return <span className="muted">{never}</span>;
  return (
    <time dateTime={at} title={exact(at)}>
      {relative(at)}
      {/* Where there is room (a key's page), the exact time is written out, not only on hover. */}
      {full ? <span className="muted"> ({exact(at)})</span> : null}
    </time>
  );
}

/** Keyset pages: the cursors seen so far make "Previous" possible; new filters start at page 1. */
export function usePager(filters: unknown): {
  cursor: string | undefined;
  next: (c: string) => void;
  prev: () => void;
  page: number;
} {
  const key = JSON.stringify(filters);
  const [state, setState] = useState<{ key: string; stack: string[] }>({ key, stack: [] });
  // New filters start again at page 1 (React's pattern for state that follows a prop).
  if (state.key !== key) setState({ key, stack: [] });
  const stack = state.key === key ? state.stack : [];
  return {
    cursor: stack[stack.length - 1],
    next: (c) => {
      setState({ key, stack: [...stack, c] });
    },
    prev: () => {
      setState({ key, stack: stack.slice(0, -1) });
    },
    page: stack.length + 1,
  };
}

export function Pager(props: {
  page: number;
  nextCursor: string | null | undefined;
  onNext: (c: string) => void;
  onPrev: () => void;
}): ReactNode {
  const { nextCursor } = props;
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={props.page <= 1} onClick={props.onPrev}>
        ← Previous
      </button>
      <span>Page {props.page}</span>
      <button
        type="button"
        disabled={nextCursor === null || nextCursor === undefined}
        onClick={() => {
          if (nextCursor !== null && nextCursor !== undefined) props.onNext(nextCursor);
        }}
      >
        Next →
      </button>
    </nav>
  );
}

/**
 * The plaintext key, shown once: masked until revealed, with a copy button and the warning. The
 * parent drops it from state when the dialog closes, so it is gone from the page for good.
 */
export function OneTimeKey({ secret }: { secret: string }): ReactNode {
  const [shown, setShown] = useState(false);
  const [copied, setCopied] = useState<string | null>(null);
  const masked = `${secret.slice(0, secret.lastIndexOf('_') + 5)}${'•'.repeat(24)}${secret.slice(-4)}`;
  return (
    <div className="one-time">
      <p className="warning" role="alert">
        Copy this key now. It will not be shown again: Keywarden keeps only its hash.
      </p>
      <div className="secret-row">
        <code data-testid="secret" aria-label={shown ? 'The new key' : 'The new key, masked'}>
          {shown ? secret : masked}
        </code>
        <button
          type="button"
          aria-pressed={shown}
          onClick={() => {
            setShown(!shown);
          }}
        >
          {shown ? 'Hide' : 'Reveal'}
        </button>
        <button
          type="button"
          data-autofocus
          onClick={() => {
            // Browsers offer the clipboard only to secure pages (https or localhost).
            if (!window.isSecureContext || !('clipboard' in navigator)) {
              setCopied(
                'This page is not served over https, so the browser gives it no clipboard: reveal the key and copy it by hand.',
              );
              return;
            }
            navigator.clipboard.writeText(secret).then(
              () => {
                setCopied('Copied to the clipboard.');
              },
              () => {
                setCopied('The browser refused the clipboard: reveal the key and copy it by hand.');
              },
            );
          }}
        >
          Copy
        </button>
      </div>
      <p className="muted" role="status" aria-live="polite">
        {copied}
      </p>
    </div>
  );
}

/**
 * A dialog that shows a new plaintext key once. Both ways out (Done, Esc or ×) call `onClose`;
 * the caller drops the key from its state there, so it is gone from the page for good.
 */
export function SecretDialog(props: {
  title: string;
  secret: string;
  onClose: () => void;
  children?: ReactNode;
}): ReactNode {
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <OneTimeKey secret={props.secret} />
      {props.children}
      <div className="actions">
        <button type="button" className="primary" onClick={props.onClose}>
          Done, I stored the key
        </button>
      </div>
    </Dialog>
  );
}

/** A form's submission: busy while the call runs, its failure in plain words. */
export function useSubmit(): {
  busy: boolean;
  error: string | null;
  setError: (e: string | null) => void;
  run: <T>(call: () => Promise<T>, then: (r: T) => void) => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return {
    busy,
    error,
    setError,
    run: (call, then) => {
      setBusy(true);
      setError(null);
      call().then(
        (r) => {
          setBusy(false);
          then(r);
        },
        (e: unknown) => {
          setBusy(false);
          setError(messageOf(e));
        },
      );
    },
  };
}
