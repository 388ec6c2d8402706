import { useCallback, useEffect, useState, type ReactNode } from 'react';
import {
  api,
  can,
  connection,
  isNetworkError,
  KeywardenApiError,
  messageOf,
  setApiSession,
  type AdminPermission,
  type Session,
} from './api.js';
import { exact } from './format.js';
import { navigate, useHashRoute, useReachable } from './hooks.js';
import { Toasts } from './components/ui.js';
import { AdminKeysPage } from './pages/admin-keys.js';
import { AuditPage } from './pages/audit.js';
import { DeliveriesPage } from './pages/deliveries.js';
import { GovernancePage } from './pages/governance.js';
import { IdentitiesPage } from './pages/identities.js';
import { KeyDetailPage } from './pages/key-detail.js';
import { KeysPage } from './pages/keys.js';
import { LogsPage } from './pages/logs.js';
import { PolicyPage } from './pages/policy.js';
import { RolesPage } from './pages/roles.js';
import { SignIn } from './pages/sign-in.js';

interface NavItem {
  to: string;
  label: string;
  /** The admin permission the page needs: without it the page is neither listed nor shown by URL. */
  needs: AdminPermission;
}

const NAV: NavItem[] = [
  { to: '/keys', label: 'API Keys', needs: 'keys:read' },
  { to: '/identities', label: 'Identities', needs: 'keys:read' },
  { to: '/governance', label: 'Governance', needs: 'keys:read' },
  { to: '/logs', label: 'Verification log', needs: 'logs:read' },
  { to: '/audit', label: 'Audit log', needs: 'audit:read' },
  { to: '/admin-keys', label: 'Admin keys', needs: 'admin:manage' },
  { to: '/deliveries', label: 'Deliveries', needs: 'admin:manage' },
  { to: '/policy', label: 'Policy', needs: 'keys:read' },
  { to: '/roles', label: 'Roles', needs: 'keys:read' },
];

/** While the server is away: one banner for the whole console, a probe every few seconds. */
function Unreachable(): ReactNode {
  const reachable = useReachable();
  useEffect(() => {
    if (reachable) return;
    const t = setInterval(() => {
      void connection.probe();
    }, 3000);
    return () => {
      clearInterval(t);
    };
  }, [reachable]);
  if (reachable) return null;
  return (
    <div className="offline-banner" role="alert">
      Keywarden cannot be reached. Nothing can be loaded or changed until it answers; the console retries
      every few seconds.{' '}
      <button
        type="button"
        onClick={() => {
          void connection.probe();
        }}
      >
        Retry now
      </button>
    </div>
  );
}

/** The shell: asks for the session, shows sign-in or the navigation and the current page. */
export function App(): ReactNode {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  const [askAgain, setAskAgain] = useState(0);
  const route = useHashRoute();
  const reachable = useReachable();
  /** The CSRF token of a session whose sign-out could not reach the server yet. */
  const [pendingSignOut, setPendingSignOut] = useState<string | null>(null);

  const lost = useCallback((detail: string) => {
    setSession(null);
    setNotice(detail);
  }, []);

  useEffect(() => {
    api<Session>('GET', '/console/api/session').then(
      (s) => {
        setSession(s);
      },
      (e: unknown) => {
        // No session is the usual answer (401); unreachable is the banner's; anything else is worth saying.
        if (!(e instanceof KeywardenApiError && e.status === 401) && !isNetworkError(e))
          setNotice(messageOf(e));
        setSession(null);
      },
    );
  }, [askAgain]);

  // Reachable again: a console that could not ask for its session asks now (it may still have one),
  // and a sign-out that could not reach the server is sent.
  useEffect(() => {
    if (!reachable) return;
    if (pendingSignOut !== null) {
      setApiSession(pendingSignOut, null);
      api('DELETE', '/console/api/session').then(
        () => {
          setApiSession(null, null);
          setPendingSignOut(null);
          setNotice('You signed out: the session has now been ended on the server too.');
        },
        (e: unknown) => {
          // Any answer but silence: the session is over there or cannot be ended; stop asking.
          if (isNetworkError(e)) return;
          setApiSession(null, null);
          setPendingSignOut(null);
        },
      );
    } else if (session === null && notice === null) {
      setAskAgain((n) => n + 1);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only the return of the server triggers this
  }, [reachable]);

  useEffect(() => {
    setApiSession(session?.csrfToken ?? null, lost);
  }, [session, lost]);

  // On a phone the navigation is a menu; following a link closes it. Each page has its own title.
  const signedIn = session !== null && session !== undefined;
  useEffect(() => {
    setMenuOpen(false);
    const item = NAV.find((n) => route.startsWith(n.to));
    if (signedIn && item !== undefined && !can(session, item.needs)) {
      document.title = `Not available · Keywarden`;
      return;
    }
    document.title = signedIn ? `${item?.label ?? 'API Keys'} · Keywarden` : 'Sign in · Keywarden';
  }, [route, signedIn, session]);

  if (session === undefined) {
    return (
      <main className="center" aria-busy="true">
        <p role="status">Loading Keywarden…</p>
      </main>
    );
  }
  if (session === null) {
    return (
      <SignIn
        notice={notice}
        banner={<Unreachable />}
        onSignedIn={(s) => {
          setApiSession(s.csrfToken, lost);
          setNotice(null);
          setSession(s);
        }}
      />
    );
  }

  const signOut = (): void => {
    api('DELETE', '/console/api/session').then(
      () => {
        setApiSession(null, null);
        setNotice('You signed out.');
        setSession(null);
        navigate('/keys');
      },
      (e: unknown) => {
        if (!isNetworkError(e)) {
          setNotice(messageOf(e));
          return;
        }
        // The server is away: this page forgets the session now, and the server is told when it
        // answers again (until then the session cookie stays valid there, until it expires).
        setApiSession(null, null);
        setPendingSignOut(session.csrfToken);
        setNotice(
          `Signed out of this page. Keywarden could not be reached to end the session: it is ended there as soon as the server answers (this page retries), or at the latest when it expires at ${exact(session.expiresAt)}.`,
        );
        setSession(null);
        navigate('/keys');
      },
    );
  };

  return (
    <div className="shell">
      <a className="skip" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href="#/keys">
          Keywarden
        </a>
        <button
          type="button"
          className="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => {
            setMenuOpen(!menuOpen);
          }}
        >
          Menu
        </button>
        <nav aria-label="Main" id="main-nav" className={menuOpen ? 'open' : undefined}>
          <ul>
            {NAV.filter((n) => can(session, n.needs)).map((n) => (
              <li key={n.to}>
                <a
                  href={`#${n.to}`}
                  aria-current={route.startsWith(n.to) ? 'page' : undefined}
                  onClick={() => {
                    setMenuOpen(false);
                  }}
                >
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span title={session.member?.email ?? session.adminKey.id}>
            {session.member !== null
              ? `${session.member.name ?? session.member.email} · ${session.member.role}`
              : session.adminKey.name}
            {session.adminKey.team !== null ? ` (team ${session.adminKey.team})` : ''}
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <Unreachable />
      {notice !== null ? (
        <p className="error" role="alert">
          {notice}
        </p>
      ) : null}
      <main id="main" tabIndex={-1}>
        {page(route, session)}
      </main>
      <Toasts />
    </div>
  );
}

/** The skip link moves focus without touching the hash, which is the router's. */
function skipToMain(e: { preventDefault: () => void }): void {
  e.preventDefault();
  document.getElementById('main')?.focus();
}

function page(route: string, session: Session): ReactNode {
  const [path = '', search = ''] = route.split('?');
  const [, section, id] = path.split('/');
  // A page this admin key may not use is not shown by URL either: say what it needs.
  const item = NAV.find((n) => n.to === `/${section ?? ''}`);
  if (item !== undefined && !can(session, item.needs)) {
    return (
      <section aria-labelledby="denied-title">
        <h1 id="denied-title">{item.label}</h1>
        <p className="notice" role="status">
          This page needs the admin permission <code>{item.needs}</code>, which the admin key{' '}
          <strong>{session.adminKey.name}</strong> does not have.
        </p>
        <p>
          <a href="#/keys">Go to API Keys</a>
        </p>
      </section>
    );
  }
  switch (section) {
    case 'keys':
      return id !== undefined && id !== '' ? (
        <KeyDetailPage key={id} id={id} session={session} />
      ) : (
        <KeysPage session={session} search={search} />
      );
    case 'identities':
      return <IdentitiesPage session={session} id={id} />;
    case 'governance':
      return <GovernancePage session={session} />;
    case 'logs':
      return <LogsPage key={id ?? ''} keyId={id} />;
    case 'audit':
      return <AuditPage session={session} />;
    case 'admin-keys':
      return <AdminKeysPage session={session} search={search} />;
    case 'deliveries':
      return <DeliveriesPage />;
    case 'policy':
      return <PolicyPage session={session} />;
    case 'roles':
      return <RolesPage session={session} />;
    default:
      return <KeysPage session={session} search={search} />;
  }
}
