import { useState, type ReactNode } from 'react';
import {
  api,
  can,
  type AuditEntry,
  type KeyRecord,
  type LogEntry,
  type Page,
  type Session,
  type Usage,
} from '../api.js';
import { EditKeyDialog } from '../components/create-key.js';
import { DeleteDialog, EndGraceDialog, RegenerateDialog, ToggleDialog } from '../components/key-actions.js';
import { AuditTable, LogTable } from '../components/tables.js';
import { EnvBadge, ErrorNote, Loading, StatusBadge, toast, When } from '../components/ui.js';
import { UsageChart } from '../components/usage-chart.js';
import { masked, plural, rateLimitText } from '../format.js';
import { useLoad } from '../hooks.js';
import { useAdminNames } from './audit.js';

type Action = 'edit' | 'regenerate' | 'toggle' | 'delete' | 'end-grace' | null;
/** The key page's record: with the open rotation grace window, when there is one. */
type KeyWithRotation = KeyRecord & { rotation?: { replacedAt: string; previousExpiresAt: string } };
const CHART_DAYS = 30;

function Field({ label, children }: { label: string; children: ReactNode }): ReactNode {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

const none = <span className="muted">none</span>;

/** The usage API's breakdown: client IPs, user agents and permissions used, most frequent first. */
function UsageBreakdown({ usage }: { usage: Usage }): ReactNode {
  const lists: [string, { value: string; count: number }[], string][] = [
    ['Client IPs', usage.ips, 'no client IP recorded'],
    ['User agents', usage.userAgents, 'no user agent recorded'],
    ['Permissions used', usage.permissionsUsed, 'no permission checked in a successful call'],
  ];
  return (
    <div className="grid-3">
      {lists.map(([title, items, empty]) => (
        <section key={title} aria-label={title}>
          <h3>{title}</h3>
          {items.length === 0 ? (
            <p className="muted">{empty}</p>
          ) : (
            <ul className="plain">
              {items.slice(0, 10).map((i) => (
                <li key={i.value}>
                  <code>{i.value}</code> <span className="muted">{plural(i.count, 'call')}</span>
                </li>
              ))}
            </ul>
          )}
        </section>
      ))}
    </div>
  );
}

/** A deleted key's page says when and by whom (from its audit trail, when the caller may read it). */
function DeletedNote({
  entries,
  names,
}: {
  entries: AuditEntry[];
  names: Record<string, string>;
}): ReactNode {
  const entry = entries.find((e) => e.action === 'key.delete');
  return (
    <p className="notice" role="status">
      This key was deleted
      {entry !== undefined ? (
        <>
          {' '}
          <When at={entry.at} full />
          {entry.actor !== null ? (
            <>
              {' by '}
              <span title={entry.actor}>{names[entry.actor] ?? entry.actor}</span>
            </>
          ) : null}
        </>
      ) : null}
      . It never verifies again; its record, usage and audit trail are kept.
    </p>
  );
}

/** One key: configuration, owner, usage chart, recent verifications, audit trail, and actions. */
export function KeyDetailPage({ id, session }: { id: string; session: Session }): ReactNode {
  const [action, setAction] = useState<Action>(null);
  const names = useAdminNames(session);
  const key = useLoad(() => api<KeyWithRotation>('GET', `/v1/keys/${encodeURIComponent(id)}`), [id]);
  const logsAllowed = can(session, 'logs:read');
  const usage = useLoad(
    () =>
      logsAllowed
        ? api<Usage>('GET', `/v1/keys/${encodeURIComponent(id)}/usage?days=${CHART_DAYS}`)
        : Promise.resolve(null),
    [id, key.data?.version],
  );
  const logs = useLoad(
    () =>
      logsAllowed
        ? api<Page<LogEntry>>('GET', `/v1/logs?keyId=${encodeURIComponent(id)}&limit=20`)
        : Promise.resolve(null),
    [id, key.data?.version],
  );
  const auditAllowed = can(session, 'audit:read');
  const audit = useLoad(
    () =>
      auditAllowed
        ? api<Page<AuditEntry>>('GET', `/v1/audit?target=${encodeURIComponent(id)}&limit=20`)
        : Promise.resolve(null),
    [id, key.data?.version],
  );

  if (key.data === null) {
    return (
      <section>
        <p>
          <a href="#/keys">← API Keys</a>
        </p>
        {key.loading ? <Loading what="the key" /> : <ErrorNote error={key.error} onRetry={key.reload} />}
      </section>
    );
  }
  const k = key.data;
  const refused = Object.entries(usage.data?.totals ?? {})
    .filter(([code]) => code !== 'VALID')
    .reduce((n, [, c]) => n + c, 0);
  const done = (changed: boolean): void => {
    // Edit and delete say so in a toast (disable/enable do, with Undo; regenerate shows the secret).
    if (changed && action === 'edit') toast(`${k.name}: changes saved.`);
    if (changed && action === 'delete') toast(`${k.name} deleted.`);
    setAction(null);
    if (changed) key.reload();
  };
  const writable = can(session, 'keys:write') && k.status !== 'deleted';

  return (
    <section aria-labelledby="key-title">
      <p>
        <a href="#/keys">← API Keys</a>
      </p>
      <div className="page-head">
        <div>
          <h1 id="key-title">{k.name}</h1>
          <p className="subtitle">
            <EnvBadge env={k.environment} /> <StatusBadge status={k.status} />{' '}
            <code aria-label="Masked key">{masked(k)}</code>
          </p>
        </div>
        <div className="toolbar" role="group" aria-label="Key actions">
          {writable ? (
            <button
              type="button"
              onClick={() => {
                setAction('edit');
              }}
            >
              Edit
            </button>
          ) : null}
          {can(session, 'keys:rotate') && k.status !== 'deleted' ? (
            <button
              type="button"
              onClick={() => {
                setAction('regenerate');
              }}
            >
              Regenerate
            </button>
          ) : null}
          {writable ? (
            <button
              type="button"
              onClick={() => {
                setAction('toggle');
              }}
            >
              {k.status === 'disabled' ? 'Enable' : 'Disable'}
            </button>
          ) : null}
          {writable ? (
            <button
              type="button"
              className="danger"
              onClick={() => {
                setAction('delete');
              }}
            >
              Delete
            </button>
          ) : null}
        </div>
      </div>
      <ErrorNote error={key.error} />
      {k.status === 'deleted' ? <DeletedNote entries={audit.data?.items ?? []} names={names} /> : null}
      {k.status === 'disabled' ? (
        <p className="notice" role="status">
          Disabled <When at={k.disabledAt} full />
          {k.disabledReason !== null ? `: ${k.disabledReason}` : ''}
        </p>
      ) : null}

      <div className="grid-2">
        <section className="card" aria-labelledby="config-title">
          <h2 id="config-title">Configuration</h2>
          <dl className="facts">
            <Field label="Id">
              <code>{k.id}</code>
            </Field>
            <Field label="Permissions">
              {k.permissions.length === 0 ? (
                none
              ) : (
                <ul className="plain">
                  {k.permissions.map((p) => (
                    <li key={p}>
                      <code>{p}</code>
                    </li>
                  ))}
                </ul>
              )}
            </Field>
            <Field label="Customer">{k.customerId ?? none}</Field>
            <Field label="Rate limits">
              {k.ratelimits.length === 0
                ? none
                : k.ratelimits.map((r) => `${r.name}: ${rateLimitText(r)}`).join(', ')}
            </Field>
            <Field label="Credits">
              {k.credits === null
                ? 'unlimited'
                : `${k.credits.remaining} remaining${k.credits.refill ? `, refilled to ${k.credits.refill.amount} ${k.credits.refill.interval}` : ''}`}
            </Field>
            <Field label="IP allowlist">
              {k.ipAllowlist.length === 0 ? 'any address' : k.ipAllowlist.join(', ')}
            </Field>
            <Field label="Expires">
              <When at={k.expiresAt} never="never" full />
            </Field>
            <Field label="Metadata">
              {Object.keys(k.metadata).length === 0 ? none : <code>{JSON.stringify(k.metadata)}</code>}
            </Field>
          </dl>
        </section>
        <section className="card" aria-labelledby="owner-title">
          <h2 id="owner-title">Owner and history</h2>
          <dl className="facts">
            <Field label="Team">{k.owner.team ?? <span className="warning-text">no team</span>}</Field>
            <Field label="Contact">
              {k.owner.contact ?? <span className="warning-text">no contact</span>}
            </Field>
            <Field label="System">{k.system ?? none}</Field>
            <Field label="Purpose">{k.purpose ?? none}</Field>
            <Field label="Created">
              <When at={k.createdAt} full />{' '}
              {k.createdBy !== null ? (
                <>
                  by <span title={k.createdBy}>{names[k.createdBy] ?? k.createdBy}</span>
                </>
              ) : (
                ''
              )}
            </Field>
            <Field label="Updated">
              <When at={k.updatedAt} full />
            </Field>
            <Field label="Last used">
              {k.lastUsedAt !== null ? (
                <When at={k.lastUsedAt} full />
              ) : (
                <span data-testid="never-used">
                  never: no call with this key has been accepted yet
                  {refused > 0
                    ? ` (${plural(refused, 'refused attempt')} in the last ${CHART_DAYS} days, listed under Recent verifications)`
                    : ''}
                </span>
              )}
            </Field>
            <Field label="Secret rotated">
              <When at={k.rotatedAt} never="never" full />
            </Field>
            {k.rotation !== undefined ? (
              <Field label="Previous secret">
                <span className="grace-note">
                  works until <When at={k.rotation.previousExpiresAt} absolute />
                  {can(session, 'keys:rotate') ? (
                    <>
                      {' '}
                      <button
                        type="button"
                        onClick={() => {
                          setAction('end-grace');
                        }}
                      >
                        End it now
                      </button>
                    </>
                  ) : null}
                </span>
              </Field>
            ) : null}
          </dl>
        </section>
      </div>

      {logsAllowed ? (
        <section className="card" aria-labelledby="usage-title">
          <h2 id="usage-title">Verifications per day</h2>
          <ErrorNote error={usage.error} onRetry={usage.reload} />
          {usage.data !== null ? (
            <>
              <UsageChart usage={usage.data} days={CHART_DAYS} />
              <UsageBreakdown usage={usage.data} />
            </>
          ) : (
            <Loading what="usage" />
          )}
        </section>
      ) : null}
      {logsAllowed ? (
        <section className="card" aria-labelledby="recent-title">
          <h2 id="recent-title">Recent verifications</h2>
          <ErrorNote error={logs.error} onRetry={logs.reload} />
          {logs.data !== null ? (
            <LogTable rows={logs.data.items} showKey={false} />
          ) : (
            <Loading what="verifications" />
          )}
          <p>
            <a href={`#/logs/${k.id}`}>All verifications of this key</a>
          </p>
        </section>
      ) : null}
      {auditAllowed ? (
        <section className="card" aria-labelledby="trail-title">
          <h2 id="trail-title">Audit trail</h2>
          <ErrorNote error={audit.error} onRetry={audit.reload} />
          {audit.data !== null ? (
            <AuditTable rows={audit.data.items} names={names} />
          ) : (
            <Loading what="the audit trail" />
          )}
        </section>
      ) : null}

      {action === 'edit' ? <EditKeyDialog record={k} onClose={done} /> : null}
      {action === 'regenerate' ? <RegenerateDialog record={k} onClose={done} /> : null}
      {action === 'toggle' ? <ToggleDialog record={k} onClose={done} /> : null}
      {action === 'delete' ? <DeleteDialog record={k} onClose={done} /> : null}
      {action === 'end-grace' && k.rotation !== undefined ? (
        <EndGraceDialog record={k} until={k.rotation.previousExpiresAt} onClose={done} />
      ) : null}
    </section>
  );
}
