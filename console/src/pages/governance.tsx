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
import { ConfirmDialog, Empty, EnvBadge, ErrorNote, Loading, toast, When } from '../components/ui.js';
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

/** The hygiene report: each section with its count and keys, and the remedies that exist. */
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
      <ErrorNote error={report.error} />
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
                <div className="table-wrap">
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
                        <tr
                          key={`${s}-${f.keyId}`}
                          className={handled[`${s}-${f.keyId}`] !== undefined ? 'handled' : undefined}
                        >
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
                              handled={handled[`${s}-${f.keyId}`]}
                              setHandled={(note) => {
                                setHandled((h) => ({ ...h, [`${s}-${f.keyId}`]: note }));
                              }}
                            />
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </section>
          ))}
        </>
      )}
    </section>
  );
}
