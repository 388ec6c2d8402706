import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { api, ApiError, can, messageOf, setApiSession, type Session } from './api.js';
import { navigate, useHashRoute } from './hooks.js';
import { Toasts } from './components/ui.js';
import { AdminKeysPage } from './pages/admin-keys.js';
import { AuditPage } from './pages/audit.js';
import { GovernancePage } from './pages/governance.js';
import { KeyDetailPage } from './pages/key-detail.js';
import { KeysPage } from './pages/keys.js';
import { LogsPage } from './pages/logs.js';
import { PolicyPage } from './pages/policy.js';
import { SignIn } from './pages/sign-in.js';

interface NavItem {
  to: string;
  label: string;
  visible: (s: Session) => boolean;
}

const NAV: NavItem[] = [
  { to: '/keys', label: 'API Keys', visible: (s) => can(s, 'keys:read') },
  { to: '/governance', label: 'Governance', visible: (s) => can(s, 'keys:read') },
  { to: '/logs', label: 'Verification log', visible: (s) => can(s, 'logs:read') },
  { to: '/audit', label: 'Audit log', visible: (s) => can(s, 'audit:read') },
  { to: '/admin-keys', label: 'Admin keys', visible: (s) => can(s, 'admin:manage') },
  { to: '/policy', label: 'Policy', visible: (s) => can(s, 'keys:read') },
];

/** The shell: asks for the session, shows sign-in or the navigation and the current page. */
export function App(): ReactNode {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  const route = useHashRoute();

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
        // No session is the usual answer (401); anything else is worth saying.
        if (!(e instanceof ApiError && e.status === 401)) setNotice(messageOf(e));
        setSession(null);
      },
    );
  }, []);

  useEffect(() => {
    setApiSession(session?.csrfToken ?? null, lost);
  }, [session, lost]);

  // On a phone the navigation is a menu; following a link closes it. Each page has its own title.
  const signedIn = session !== null && session !== undefined;
  useEffect(() => {
    setMenuOpen(false);
    const item = NAV.find((n) => route.startsWith(n.to));
    document.title = signedIn ? `${item?.label ?? 'API Keys'} · Keywarden` : 'Sign in · Keywarden';
  }, [route, signedIn]);

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
        setNotice(messageOf(e));
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
            {NAV.filter((n) => n.visible(session)).map((n) => (
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
  switch (section) {
    case 'keys':
      return id !== undefined && id !== '' ? (
        <KeyDetailPage key={id} id={id} session={session} />
      ) : (
        <KeysPage session={session} search={search} />
      );
    case 'governance':
      return <GovernancePage session={session} />;
    case 'logs':
      return <LogsPage key={id ?? ''} keyId={id} />;
    case 'audit':
      return <AuditPage session={session} />;
    case 'admin-keys':
      return <AdminKeysPage session={session} />;
    case 'policy':
      return <PolicyPage session={session} />;
    default:
      return <KeysPage session={session} search={search} />;
  }
}
