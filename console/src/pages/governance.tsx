import { useState, type ReactNode } from 'react';
import {
  api,
  can,
  SECTIONS,
  type Finding,
  type KeyRecord,
  type Report,
  type Section,
  type Session,
} from '../api.js';
import { KeyImpact } from '../components/impact.js';
import { NarrowSafely } from '../components/narrow-safely.js';
import {
  ConfirmDialog,
  Empty,
  EnvBadge,
  ErrorNote,
  Loading,
  StatusBadge,
  toast,
  When,
} from '../components/ui.js';
import { exact, plural } from '../format.js';
import { useLoad } from '../hooks.js';

const TITLES: Record<Section, [string, string]> = {
  unowned: ['Unowned', 'no team or contact, or a team with no active admin key'],
  stale: ['Stale', 'active but unused for longer than the policy allows'],
  overPrivileged: ['Over-privileged', 'wildcards, or permissions granted and never used'],
  testKeysInProduction: [
    'Test keys used against production',
    'staging or development keys presented to a production verifier',
  ],
  rotationDue: ['Rotation due', 'expiring soon, or older than the policy lifetime'],
  sharedKeys: ['Shared keys', 'one key seen from many client IPs or user agents in a day'],
  nonCompliant: ['Breaks the policy', 'keys created before a policy change that no longer comply'],
  narrowingReady: [
    'Ready to narrow',
    'a shadow period ended with no call needing more than the narrower set (apply it with Edit)',
  ],
  imported: ['Imported', 'keys imported from another system: regenerate them into Keywarden keys'],
};

type Pending = { kind: 'disable' } | { kind: 'apply'; permissions: string[] };

/**
 * Remedies: each asks first, saying what it would break (the key's live traffic), then is one
 * API call. The row changes in place and a toast offers Undo; the report is not re-read, so the
 * page does not jump.
 */
function Remedies(props: {
  section: Section;
  f: Finding;
  session: Session;
  handled: string | undefined;
  setHandled: (note: string | undefined) => void;
}): ReactNode {
  const { f, section } = props;
  const [pending, setPending] = useState<Pending | null>(null);
  const writable = can(props.session, 'keys:write');
  const suggested = f.suggestedPermissions;
  if (props.handled !== undefined) {
    return (
      <div className="toolbar">
        <a href={`#/keys/${f.keyId}`}>Open key</a>
        <span className="badge status-done">{props.handled}</span>
      </div>
    );
  }
  const confirmDisable = async (): Promise<void> => {
    await api<KeyRecord>('POST', `/v1/keys/${f.keyId}/disable`, {
      reason: `governance report: ${TITLES[section][0].toLowerCase()} (${f.reason})`.slice(0, 500),
    });
    props.setHandled('Disabled');
    toast(`${f.name} disabled.`, async () => {
      await api<KeyRecord>('POST', `/v1/keys/${f.keyId}/enable`, {});
      props.setHandled(undefined);
    });
  };
  const confirmApply = async (next: string[]): Promise<void> => {
    const before = await api<KeyRecord>('GET', `/v1/keys/${f.keyId}`);
    await api<KeyRecord>('PATCH', `/v1/keys/${f.keyId}`, { permissions: next });
    props.setHandled(`Now ${next.join(', ')}`);
    toast(`${f.name} now has ${next.join(', ')}.`, async () => {
      await api<KeyRecord>('PATCH', `/v1/keys/${f.keyId}`, { permissions: before.permissions });
      props.setHandled(undefined);
    });
  };
  return (
    <div className="toolbar">
      <a href={`#/keys/${f.keyId}`}>Open key</a>
      {writable && (section === 'stale' || section === 'testKeysInProduction' || section === 'sharedKeys') ? (
        <button
          type="button"
          aria-label={`Disable ${f.name}`}
          onClick={() => {
            setPending({ kind: 'disable' });
          }}
        >
          Disable
        </button>
      ) : null}
      {writable && section === 'overPrivileged' && suggested !== undefined && suggested.length > 0 ? (
        <button
          type="button"
          aria-label={`Apply suggested permissions to ${f.name}`}
          title={suggested.join(', ')}
          onClick={() => {
            setPending({ kind: 'apply', permissions: suggested });
          }}
        >
          Apply {suggested.join(', ')}
        </button>
      ) : null}
      {writable && section === 'overPrivileged' && suggested !== undefined ? (
        <NarrowSafely f={f} suggested={suggested} onStarted={props.setHandled} />
      ) : null}
      {pending !== null ? (
        <ConfirmDialog
          title={pending.kind === 'disable' ? `Disable ${f.name}?` : `Narrow ${f.name}?`}
          confirmLabel={pending.kind === 'disable' ? 'Disable key' : 'Apply permissions'}
          danger={pending.kind === 'disable'}
          onConfirm={() =>
            pending.kind === 'disable' ? confirmDisable() : confirmApply(pending.permissions)
          }
          onClose={() => {
            setPending(null);
          }}
        >
          <p>
            {pending.kind === 'disable' ? (
              <>
                Every verification of <strong>{f.name}</strong> (<EnvBadge env={f.environment} />) is refused
                with DISABLED from the moment you confirm. You can enable it again.
              </>
            ) : (
              <>
                <strong>{f.name}</strong> (<EnvBadge env={f.environment} />) keeps only{' '}
                <code>{pending.permissions.join(', ')}</code>
                {f.granted !== undefined ? (
                  <>
                    {' '}
                    instead of <code>{f.granted.join(', ')}</code>
                  </>
                ) : null}
                : calls that need anything else are refused with INSUFFICIENT_PERMISSIONS.
              </>
            )}
          </p>
          <KeyImpact keyId={f.keyId} environment={f.environment} />
        </ConfirmDialog>
      ) : null}
    </div>
  );
}

/** ISO times inside the report's sentences, in the console's one format. */
const human = (reason: string): string =>
  reason.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, (iso) => exact(iso));

const NO_ADMIN = /^team "(.+)" has no active admin key/;

/** Findings of one section, by owner team (teams in order, "no team" last). */
function byTeam(findings: Finding[]): [string | null, Finding[]][] {
  const groups = new Map<string | null, Finding[]>();
  for (const f of findings) groups.set(f.team ?? null, [...(groups.get(f.team ?? null) ?? []), f]);
  return [...groups.entries()].sort(([a], [b]) => (a === null ? 1 : b === null ? -1 : a.localeCompare(b)));
}

/** One team's findings in a section: a shared cause once, with its one action; the rest as rows. */
function TeamGroup(props: {
  section: Section;
  team: string | null;
  findings: Finding[];
  session: Session;
  handled: Record<string, string | undefined>;
  setHandled: (id: string, note: string | undefined) => void;
}): ReactNode {
  const { section, team, findings } = props;
  // Handled keys (disabled, expired) are not part of a cause to act on: they stay as greyed rows.
  const adminless =
    section === 'unowned' && team !== null
      ? findings.filter((f) => NO_ADMIN.test(f.reason) && (f.status === undefined || f.status === 'active'))
      : [];
  const rows = findings.filter((f) => !adminless.includes(f));
  const label = team === null ? 'No owner team' : `Team ${team}`;
  return (
    <section className="team-group" aria-label={`${TITLES[section][0]}: ${label}`}>
      <h3>
        {label} <span className="count">{plural(findings.length, 'key')}</span>
      </h3>
      {adminless.length > 0 && team !== null ? (
        <div className="cause">
          <span>
            {plural(adminless.length, 'key')}: team <strong>{team}</strong> has no active admin key to answer
            for {adminless.length === 1 ? 'it' : 'them'}.
          </span>
          {can(props.session, 'admin:manage') ? (
            <a className="button" href={`#/admin-keys?create=${encodeURIComponent(team)}`}>
              Create an admin key for team {team}
            </a>
          ) : null}
          <details>
            <summary>Show the {plural(adminless.length, 'key')}</summary>
            <ul className="plain">
              {adminless.map((f) => (
                <li key={f.keyId}>
                  <a href={`#/keys/${f.keyId}`}>{f.name}</a> <EnvBadge env={f.environment} />
                </li>
              ))}
            </ul>
          </details>
        </div>
      ) : null}
      {rows.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">
              {TITLES[section][0]} keys of {label.toLowerCase()}
            </caption>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Environment</th>
                <th scope="col">Why</th>
                <th scope="col">Remedy</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((f) => {
                const id = `${section}-${f.keyId}`;
                const done = f.status !== undefined && f.status !== 'active';
                return (
                  <tr key={id} className={done || props.handled[id] !== undefined ? 'handled' : undefined}>
                    <th scope="row">
                      <a href={`#/keys/${f.keyId}`}>{f.name}</a>
                      {done && f.status !== undefined ? (
                        <>
                          {' '}
                          <StatusBadge status={f.status} />
                        </>
                      ) : null}
                    </th>
                    <td>
                      <EnvBadge env={f.environment} />
                    </td>
                    <td>{human(f.reason)}</td>
                    <td>
                      {done ? (
                        <span className="muted">Handled: the key no longer verifies</span>
                      ) : (
                        <Remedies
                          section={section}
                          f={f}
                          session={props.session}
                          handled={props.handled[id]}
                          setHandled={(note) => {
                            props.setHandled(id, note);
                          }}
                        />
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

/**
 * The hygiene report: each section collapsible with its count, its findings grouped by owner
 * team with one action per shared cause, handled (disabled or expired) keys greyed and offered
 * nothing, times in the console's format.
 */
export function GovernancePage({ session }: { session: Session }): ReactNode {
  const report = useLoad(() => api<Report>('GET', '/v1/reports/governance'), []);
  const [handled, setHandled] = useState<Record<string, string | undefined>>({});
  const r = report.data;
  return (
    <section aria-labelledby="gov-title">
      <div className="page-head">
        <h1 id="gov-title">Governance</h1>
        <button
          type="button"
          onClick={() => {
            setHandled({});
            report.reload();
          }}
        >
          Refresh
        </button>
      </div>
      <ErrorNote error={report.error} onRetry={report.reload} />
      {r === null ? (
        report.loading ? (
          <Loading what="the report" />
        ) : null
      ) : (
        <>
          <p className="muted">
            Generated <When at={r.generatedAt} full />.
          </p>
          <ul className="summary" aria-label="Findings per section">
            {SECTIONS.map((s) => (
              <li key={s}>
                <a
                  href={`#/governance`}
                  onClick={(e) => {
                    e.preventDefault();
                    const d = document.getElementById(`sec-${s}`);
                    if (d instanceof HTMLDetailsElement) d.open = true;
                    d?.scrollIntoView();
                  }}
                >
                  <strong>{r.summary[s]}</strong> {TITLES[s][0]}
                </a>
              </li>
            ))}
          </ul>
          {SECTIONS.map((s) => (
            <section key={s} className="card" aria-labelledby={`sec-${s}-title`}>
              <details id={`sec-${s}`} className="gov-section" open={r[s].length > 0}>
                <summary>
                  <h2 id={`sec-${s}-title`}>
                    {TITLES[s][0]} <span className="count">{r.summary[s]}</span>
                  </h2>
                </summary>
                <p className="muted">{TITLES[s][1]}</p>
                {r[s].length === 0 ? (
                  <Empty>Nothing here.</Empty>
                ) : (
                  byTeam(r[s]).map(([team, findings]) => (
                    <TeamGroup
                      key={team ?? ''}
                      section={s}
                      team={team}
                      findings={findings}
                      session={session}
                      handled={handled}
                      setHandled={(id, note) => {
                        setHandled((h) => ({ ...h, [id]: note }));
                      }}
                    />
                  ))
                )}
              </details>
            </section>
          ))}
        </>
      )}
    </section>
  );
}
