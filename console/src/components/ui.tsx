import { useEffect, useId, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import { isNetworkError, messageOf } from '../api.js';
import { exact, relative, STATUS_LABEL } from '../format.js';
import type { KeyRecord } from '../api.js';
import { useReachable } from '../hooks.js';

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
  const reachable = useReachable();
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
      {reachable ? null : (
        <p className="error" role="alert">
          Keywarden cannot be reached: nothing here can be sent until it answers again.
        </p>
      )}
      {props.children}
    </dialog>
  );
}

/** A refusal in the server's words; with `onRetry`, a way to ask again. */
export function ErrorNote({ error, onRetry }: { error: string | null; onRetry?: () => void }): ReactNode {
  if (error === null) return null;
  return (
    <p className="error" role="alert">
      {error}
      {onRetry !== undefined ? (
        <>
          {' '}
          <button type="button" onClick={onRetry}>
            Try again
          </button>
        </>
      ) : null}
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

/**
 * Every time the console shows goes through here (and `exact`/`relative` in format.ts): relative
 * with the exact time on hover, or `absolute` (logs: to the second, "4 minutes ago" on every row
 * says nothing). Never wraps, so a time never doubles a row's height.
 */
export function When({
  at,
  never = 'never',
  full = false,
  absolute = false,
}: {
  at: string | null;
  never?: string;
  full?: boolean;
  absolute?: boolean;
}): ReactNode {
  if (at === null) return <span className="muted">{never}</span>;
  if (absolute)
    return (
      <time className="when" dateTime={at} title={relative(at)}>
        {exact(at)}
      </time>
    );
  return (
    <time className="when" dateTime={at} title={exact(at)}>
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
 * `onTaken` tells the parent the key was copied or revealed (closing before that asks first).
 */
export function OneTimeKey({ secret, onTaken }: { secret: string; onTaken?: () => void }): ReactNode {
  const [shown, setShown] = useState(false);
  const [copied, setCopied] = useState(false);
  const [note, setNote] = useState<string | null>(null);
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
            onTaken?.();
          }}
        >
          {shown ? 'Hide' : 'Reveal'}
        </button>
        <button
          type="button"
          data-autofocus
          className={copied ? 'copied' : undefined}
          onClick={() => {
            // Browsers offer the clipboard only to secure pages (https or localhost).
            if (!window.isSecureContext || !('clipboard' in navigator)) {
              setNote(
                'This page is not served over https, so the browser gives it no clipboard: reveal the key and copy it by hand.',
              );
              return;
            }
            navigator.clipboard.writeText(secret).then(
              () => {
                setCopied(true);
                setNote('Copied to the clipboard.');
                onTaken?.();
              },
              () => {
                setNote('The browser refused the clipboard: reveal the key and copy it by hand.');
              },
            );
          }}
        >
          {copied ? 'Copied ✓' : 'Copy'}
        </button>
      </div>
      <p className="muted" role="status" aria-live="polite">
        {note}
      </p>
    </div>
  );
}

/**
 * A dialog that shows a new plaintext key once. Every way out (Done, Esc or ×) calls `onClose`;
 * the caller drops the key from its state there, so it is gone from the page for good. Until the
 * key was copied or revealed, leaving asks first: it cannot be shown again.
 */
export function SecretDialog(props: {
  title: string;
  secret: string;
  onClose: () => void;
  children?: ReactNode;
}): ReactNode {
  const [taken, setTaken] = useState(false);
  const [asking, setAsking] = useState(false);
  const leave = (): void => {
    if (taken) props.onClose();
    else setAsking(true);
  };
  return (
    <Dialog title={props.title} onClose={leave}>
      <OneTimeKey
        secret={props.secret}
        onTaken={() => {
          setTaken(true);
          setAsking(false);
        }}
      />
      {props.children}
      {asking ? (
        <div className="confirm-leave" role="alert">
          <p>
            <strong>You have not copied or revealed this key.</strong> Once this dialog closes it cannot be
            shown again; you would have to regenerate it.
          </p>
          <div className="actions">
            <button
              type="button"
              onClick={() => {
                setAsking(false);
              }}
            >
              Back to the key
            </button>
            <button type="button" className="danger" onClick={props.onClose}>
              Close without the key
            </button>
          </div>
        </div>
      ) : (
        <div className="actions">
          <button type="button" className="primary" onClick={leave}>
            Done, I stored the key
          </button>
        </div>
      )}
    </Dialog>
  );
}

/** A toast: a short message about an action just taken, with Undo where it can be undone. */
interface Toast {
  id: number;
  message: string;
  undo?: () => Promise<unknown>;
  tone?: 'ok' | 'error';
  /** Where it shows: just below the control the action started from (none: the screen's corner). */
  at?: { top: number; left: number };
}

/**
 * The control an action started from: the last button or link clicked outside a dialog (a
 * dialog's confirm button is not where the person's eyes are once it closes), with where it was.
 */
let lastAction: { el: Element; rect: DOMRect; at: number } | undefined;
function trackActions(e: MouseEvent): void {
  const el = e.target instanceof Element ? e.target.closest('button, a, [role="button"]') : null;
  if (el === null || el.closest('dialog, .toasts') !== null) return;
  lastAction = { el, rect: el.getBoundingClientRect(), at: Date.now() };
}

/** Just below the control of the latest action (or where it was, if the page replaced it). */
function anchorOfAction(): Toast['at'] {
  // On a phone the corner is the whole width: toasts stay at the bottom, within reach.
  if (lastAction === undefined || Date.now() - lastAction.at > 60_000 || window.innerWidth < 600)
    return undefined;
  const r = lastAction.el.isConnected ? lastAction.el.getBoundingClientRect() : lastAction.rect;
  if (r.width === 0 && r.height === 0) return undefined;
  const width = Math.min(440, window.innerWidth - 32);
  return {
    top: Math.max(8, Math.min(r.bottom + 8, window.innerHeight - 96)),
    left: Math.max(16, Math.min(r.left, window.innerWidth - width - 16)),
  };
}
let toasts: Toast[] = [];
let toastSeq = 0;
const toastListeners = new Set<() => void>();
const emitToasts = (): void => {
  for (const l of toastListeners) l();
};
function dismiss(id: number): void {
  toasts = toasts.filter((t) => t.id !== id);
  emitToasts();
}

/**
 * Shows a toast (the newest three are kept). With `undo`, the toast offers Undo, which runs it and
 * says how that went; without, it goes away by itself after a few seconds.
 */
export function toast(message: string, undo?: () => Promise<unknown>, tone: 'ok' | 'error' = 'ok'): void {
  const id = ++toastSeq;
  const at = anchorOfAction();
  toasts = [
    ...toasts.slice(-2),
    { id, message, tone, ...(undo === undefined ? {} : { undo }), ...(at === undefined ? {} : { at }) },
  ];
  emitToasts();
  setTimeout(
    () => {
      dismiss(id);
    },
    undo === undefined ? 6000 : 12000,
  );
}

/**
 * Where toasts appear (once, in the app shell): a polite live region beside the control the action
 * started from, or at the bottom of the screen when there is none (and on phones).
 */
export function Toasts(): ReactNode {
  const list = useSyncExternalStore(
    (l) => {
      toastListeners.add(l);
      return () => toastListeners.delete(l);
    },
    () => toasts,
  );
  useEffect(() => {
    document.addEventListener('click', trackActions, true);
    return () => {
      document.removeEventListener('click', trackActions, true);
    };
  }, []);
  const at = list.at(-1)?.at;
  return (
    <div
      className="toasts"
      role="status"
      aria-live="polite"
      aria-label="Notifications"
      style={at === undefined ? undefined : { top: at.top, left: at.left, right: 'auto', bottom: 'auto' }}
    >
      {list.map((t) => (
        <div key={t.id} className={`toast toast-${t.tone ?? 'ok'}`}>
          <span>{t.message}</span>
          {t.undo !== undefined ? (
            <button
              type="button"
              onClick={() => {
                const undo = t.undo;
                dismiss(t.id);
                undo?.().then(
                  () => {
                    toast('Undone.');
                  },
                  (e: unknown) => {
                    toast(`Could not undo: ${messageOf(e)}`, undefined, 'error');
                  },
                );
              }}
            >
              Undo
            </button>
          ) : null}
          <button
            type="button"
            className="icon"
            aria-label="Dismiss"
            onClick={() => {
              dismiss(t.id);
            }}
          >
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

/**
 * A confirmation that says what the action will do before it is done. With `typed`, the
 * confirm button stays disabled until that text (a name) is typed exactly.
 */
export function ConfirmDialog(props: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  typed?: string;
  onConfirm: () => Promise<unknown>;
  onClose: (done: boolean) => void;
}): ReactNode {
  const s = useSubmit();
  const [typed, setTyped] = useState('');
  const inputId = useId();
  const blocked = props.typed !== undefined && typed !== props.typed;
  return (
    <Dialog
      title={props.title}
      onClose={() => {
        props.onClose(false);
      }}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (blocked || s.busy) return;
          s.run(props.onConfirm, () => {
            props.onClose(true);
          });
        }}
      >
        <div className="impact">{props.children}</div>
        {props.typed !== undefined ? (
          <>
            <label htmlFor={inputId}>
              Type <strong>{props.typed}</strong> to confirm
            </label>
            <input
              id={inputId}
              data-autofocus
              value={typed}
              autoComplete="off"
              spellCheck={false}
              onChange={(e) => {
                setTyped(e.target.value);
              }}
            />
          </>
        ) : null}
        <ErrorNote error={s.error} />
        <div className="actions">
          <button
            type="button"
            onClick={() => {
              props.onClose(false);
            }}
          >
            Cancel
          </button>
          <button
            type="submit"
            className={props.danger === true ? 'danger' : 'primary'}
            disabled={s.busy || blocked}
            data-autofocus={props.typed === undefined ? true : undefined}
          >
            {props.confirmLabel}
          </button>
        </div>
      </form>
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
  const reachable = useReachable();
  return {
    // Nothing is sent to a server that is away: the form waits (the dialog says why).
    busy: busy || !reachable,
    error,
    setError,
    run: (call, then) => {
      if (!reachable) return;
      setBusy(true);
      setError(null);
      call().then(
        (r) => {
          setBusy(false);
          then(r);
        },
        (e: unknown) => {
          setBusy(false);
          // Unreachable: the shell's banner and the dialog say so; the entries stay for a retry.
          setError(isNetworkError(e) ? null : messageOf(e));
        },
      );
    },
  };
}
