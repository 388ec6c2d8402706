import { useEffect, useRef, useState, type ReactNode } from 'react';
import { api, isNetworkError, messageOf, type Session, type SignInOptions } from '../api.js';
import { ErrorNote } from '../components/ui.js';
import { useReachable } from '../hooks.js';

/**
 * Sign in with single sign-on (when the deployment has an identity provider) or with an admin key
 * (unless turned off). The SSO link is a plain navigation: the provider sends the browser back to
 * the server, which sets the session cookie and opens the console.
 *
 * With an admin key: it goes to the server once and is exchanged for an HttpOnly session
 * cookie. The field is cleared whatever the answer; nothing keeps the key in the browser.
 */
export function SignIn(props: {
  notice: string | null;
  banner: ReactNode;
  onSignedIn: (s: Session) => void;
}): ReactNode {
  const reachable = useReachable();
  const [adminKey, setAdminKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [options, setOptions] = useState<SignInOptions>({ sso: false, adminKey: true });
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => {
    api<SignInOptions>('GET', '/console/api/sign-in-options').then(setOptions, () => {
      // An older server without the route: admin-key sign-in only.
    });
  }, []);
  // The one thing to do on this page: the field has the focus on load.
  // While the server is away the field is closed (a key typed now could not be sent), and it
  // takes the focus again when the server answers.
  useEffect(() => {
    if (reachable) field.current?.focus();
  }, [reachable]);
  const sso = options.sso ? (
    <p>
      <a className="button primary" href="/console/api/oidc/login">
        Sign in with SSO
      </a>
    </p>
  ) : null;
  if (!options.adminKey) {
    return (
      <main className="center">
        {props.banner}
        <section className="card sign-in" aria-labelledby="sign-in-title">
          <h1 id="sign-in-title">Sign in to Keywarden</h1>
          {props.notice !== null ? <p role="status">{props.notice}</p> : null}
          {sso}
        </section>
      </main>
    );
  }
  return (
    <main className="center">
      {props.banner}
      <form
        className="card sign-in"
        aria-labelledby="sign-in-title"
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          const typed = adminKey.trim();
          setAdminKey('');
          api<Session>('POST', '/console/api/session', { adminKey: typed }).then(
            (s) => {
              props.onSignedIn(s);
            },
            (err: unknown) => {
              setBusy(false);
              setError(isNetworkError(err) ? null : messageOf(err));
            },
          );
        }}
      >
        <h1 id="sign-in-title">Sign in to Keywarden</h1>
        {props.notice !== null ? <p role="status">{props.notice}</p> : null}
        {sso}
        {options.sso ? <p className="hint">Or, for first setup and emergencies:</p> : null}
        <label htmlFor="admin-key">Admin key</label>
        <input
          id="admin-key"
          ref={field}
          // Not type=password: browsers offer to save password fields in their password manager,
          // and the admin key must not be stored by the browser. CSS masks what is typed.
          type="text"
          className="masked"
          autoComplete="off"
          spellCheck={false}
          placeholder="kw_adm_…"
          required
          disabled={!reachable}
          value={adminKey}
          onChange={(e) => {
            setAdminKey(e.target.value);
          }}
        />
        <p className="hint">
          The key is exchanged for a session cookie and not kept by the browser. <code>npm start</code> prints
          the root admin key once.
        </p>
        <ErrorNote error={error} />
        <button type="submit" className="primary" disabled={busy || !reachable}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
