import { useState, type ReactNode } from 'react';
import { AUDIT_ACTIONS } from '../../../src/core/codes.js';
import { api, can, query, type AdminKeyRecord, type AuditEntry, type Page, type Session } from '../api.js';
import { AuditTable } from '../components/tables.js';
import { ErrorNote, Loading, Pager, usePager } from '../components/ui.js';
import { useDebounced, useLoad } from '../hooks.js';

interface ChainStatus {
  ok: boolean;
  entries: number;
  brokenAt: number | null;
}

/** Day inputs (YYYY-MM-DD) as the API's date-times: the whole day, in UTC. */
const dayStart = (d: string): string | undefined => (d === '' ? undefined : `${d}T00:00:00.000Z`);
const dayEnd = (d: string): string | undefined => (d === '' ? undefined : `${d}T23:59:59.999Z`);

/** The names of the admin keys this session may list, and its own: actors shown by name. */
export function useAdminNames(session: Session): Record<string, string> {
  const admins = useLoad(
    () =>
      can(session, 'admin:manage')
        ? api<Page<AdminKeyRecord>>('GET', '/v1/admin-keys?limit=200')
        : Promise.resolve(null),
    [],
  );
  const names: Record<string, string> = { [session.adminKey.id]: session.adminKey.name };
  for (const k of admins.data?.items ?? []) names[k.id] = k.name;
  return names;
}

/** The audit log with its filters, and the hash chain's status. */
export function AuditPage({ session }: { session: Session }): ReactNode {
  const names = useAdminNames(session);
  const [action, setAction] = useState('');
  const [actor, setActor] = useState('');
  const [target, setTarget] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const filters = {
    action,
    actor: useDebounced(actor.trim(), 250),
    target: useDebounced(target.trim(), 250),
    from: dayStart(from),
    to: dayEnd(to),
  };
  const pager = usePager(filters);
  const rows = useLoad(
    () => api<Page<AuditEntry>>('GET', `/v1/audit${query({ ...filters, limit: 50, cursor: pager.cursor })}`),
    [JSON.stringify(filters), pager.cursor],
  );
  const chain = useLoad(() => api<ChainStatus>('GET', '/v1/audit/verify'), []);
  return (
    <section aria-labelledby="audit-title">
      <div className="page-head">
        <h1 id="audit-title">Audit log</h1>
        <div role="status" aria-live="polite">
          {chain.data === null ? (
            chain.error !== null ? (
              <span className="error">{chain.error}</span>
            ) : (
              <span className="muted">Checking the hash chain…</span>
            )
          ) : chain.data.ok ? (
            <span className="badge chain-ok">Chain intact: {chain.data.entries} entries verified</span>
          ) : (
            <span className="badge chain-broken">
              Chain broken at entry {chain.data.brokenAt}: the log was edited or rows were deleted
            </span>
          )}{' '}
          <button type="button" onClick={chain.reload}>
            Check again
          </button>
        </div>
      </div>
      <form
        className="filters"
        role="search"
        aria-label="Filter audit entries"
        onSubmit={(e) => {
          e.preventDefault();
        }}
      >
        <label>
          Action
          <select
            value={action}
            onChange={(e) => {
              setAction(e.target.value);
            }}
          >
            <option value="">All</option>
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label>
          Actor (admin key id)
          <input
            value={actor}
            spellCheck={false}
            onChange={(e) => {
              setActor(e.target.value);
            }}
          />
        </label>
        <label>
          Target
          <input
            value={target}
            spellCheck={false}
            placeholder="key_…"
            onChange={(e) => {
              setTarget(e.target.value);
            }}
          />
        </label>
        <label>
          From
          <input
            type="date"
            value={from}
            onChange={(e) => {
              setFrom(e.target.value);
            }}
          />
        </label>
        <label>
          To
          <input
            type="date"
            value={to}
            onChange={(e) => {
              setTo(e.target.value);
            }}
          />
        </label>
      </form>
      <ErrorNote error={rows.error} />
      {rows.data !== null ? (
        <AuditTable rows={rows.data.items} names={names} />
      ) : rows.loading ? (
        <Loading what="the audit log" />
      ) : null}
      <Pager page={pager.page} nextCursor={rows.data?.nextCursor} onNext={pager.next} onPrev={pager.prev} />
    </section>
  );
}
