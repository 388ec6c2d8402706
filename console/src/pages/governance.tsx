import { useState, type ReactNode } from 'react';
import {
  api,
  can,
  messageOf,
  SECTIONS,
  type Finding,
  type KeyRecord,
  type Report,
  type Section,
  type Session,
} from '../api.js';
import { Empty, EnvBadge, ErrorNote, Loading } from '../components/ui.js';
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
};

/** One-click remedies: each is a plain API call, then the report is read again. */
function Remedies(props: {
  section: Section;
  f: Finding;
  session: Session;
  done: (msg: string) => void;
  fail: (msg: string) => void;
}): ReactNode {
  const { f, section } = props;
  const [busy, setBusy] = useState(false);
  const run = (label: string, call: () => Promise<unknown>): void => {
    setBusy(true);
    call().then(
      () => {
        setBusy(false);
        props.done(label);
      },
      (e: unknown) => {
        setBusy(false);
        props.fail(`${f.name}: ${messageOf(e)}`);
      },
    );
  };
  const writable = can(props.session, 'keys:write');
  const suggested = f.suggestedPermissions;
  return (
    <div className="toolbar">
      <a href={`#/keys/${f.keyId}`}>Open key</a>
      {writable && (section === 'stale' || section === 'testKeysInProduction' || section === 'sharedKeys') ? (
        <button
          type="button"
          disabled={busy}
          aria-label={`Disable ${f.name}`}
          onClick={() => {
            run(`${f.name} disabled.`, () =>
              api<KeyRecord>('POST', `/v1/keys/${f.keyId}/disable`, {
                reason: `governance report: ${TITLES[section][0].toLowerCase()} (${f.reason})`.slice(0, 500),
              }),
            );
          }}
        >
          Disable
        </button>
      ) : null}
      {writable && section === 'overPrivileged' && suggested !== undefined && suggested.length > 0 ? (
        <button
          type="button"
          disabled={busy}
          aria-label={`Apply suggested permissions to ${f.name}`}
          title={suggested.join(', ')}
          onClick={() => {
            run(`${f.name} now has ${suggested.join(', ')}.`, () =>
              api<KeyRecord>('PATCH', `/v1/keys/${f.keyId}`, { permissions: suggested }),
            );
          }}
        >
          Apply {suggested.join(', ')}
        </button>
      ) : null}
    </div>
  );
}

/** The hygiene report: each section with its count and keys, and the remedies that exist. */
export function GovernancePage({ session }: { session: Session }): ReactNode {
  const report = useLoad(() => api<Report>('GET', '/v1/reports/governance'), []);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const r = report.data;
  return (
    <section aria-labelledby="gov-title">
      <div className="page-head">
        <h1 id="gov-title">Governance</h1>
        <button type="button" onClick={report.reload}>
          Refresh
        </button>
      </div>
      <p role="status" className="muted">
        {message}
      </p>
      <ErrorNote error={error ?? report.error} />
      {r === null ? (
        report.loading ? (
          <Loading what="the report" />
        ) : null
      ) : (
        <>
          <p className="muted">Generated {new Date(r.generatedAt).toUTCString()}.</p>
          <ul className="summary" aria-label="Findings per section">
            {SECTIONS.map((s) => (
              <li key={s}>
                <a
                  href={`#/governance`}
                  onClick={(e) => {
                    e.preventDefault();
                    document.getElementById(`sec-${s}`)?.scrollIntoView();
                  }}
                >
                  <strong>{r.summary[s]}</strong> {TITLES[s][0]}
                </a>
              </li>
            ))}
          </ul>
          {SECTIONS.map((s) => (
            <section key={s} id={`sec-${s}`} className="card" aria-labelledby={`sec-${s}-title`}>
              <h2 id={`sec-${s}-title`}>
                {TITLES[s][0]} <span className="count">{r.summary[s]}</span>
              </h2>
              <p className="muted">{TITLES[s][1]}</p>
              {r[s].length === 0 ? (
                <Empty>Nothing here.</Empty>
              ) : (
                <table>
                  <caption className="sr-only">{TITLES[s][0]} keys</caption>
                  <thead>
                    <tr>
                      <th scope="col">Key</th>
                      <th scope="col">Environment</th>
                      <th scope="col">Why</th>
                      <th scope="col">Remedy</th>
                    </tr>
                  </thead>
                  <tbody>
                    {r[s].map((f) => (
                      <tr key={`${s}-${f.keyId}`}>
                        <th scope="row">{f.name}</th>
                        <td>
                          <EnvBadge env={f.environment} />
                        </td>
                        <td>{f.reason}</td>
                        <td>
                          <Remedies
                            section={s}
                            f={f}
                            session={session}
                            done={(msg) => {
                              setError(null);
                              setMessage(msg);
                              report.reload();
                            }}
                            fail={setError}
                          />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          ))}
        </>
      )}
    </section>
  );
}
