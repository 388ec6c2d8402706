import { useState, type ReactNode } from 'react';
import { AUDIT_ACTIONS } from '../../../src/core/codes.js';
import { api, can, query, type AdminKeyRecord, type AuditEntry, type Page, type Session } from '../api.js';
import { Suggest, usePickedKey } from '../components/names.js';
import { AuditTable } from '../components/tables.js';
import { Empty, ErrorNote, Loading, Pager, usePager } from '../components/ui.js';
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
  // Actors by admin key name (an id works too); targets by key name, or any id (adm_…, team:…).
  const actorText = useDebounced(actor.trim(), 250);
  const byName = Object.entries(names).find(([, n]) => n === actorText)?.[0];
  const actorId =
    actorText === '' ? undefined : (byName ?? (/^(adm_|root$|system$)/.test(actorText) ? actorText : null));
  const rawTarget = /^(key_|adm_|wh_|team:|policy$)/.test(target.trim());
  const picked = usePickedKey(rawTarget ? '' : target);
  const targetId = rawTarget ? target.trim() : picked.id;
  const filters = {
    action,
    actor: actorId ?? undefined,
    target: targetId ?? undefined,
    from: dayStart(from),
    to: dayEnd(to),
  };
  const pager = usePager(filters);
  const noMatch =
    actorId === null
      ? `No admin key is named “${actorText}”.`
      : targetId === null
        ? `No key is named “${target.trim()}”.`
        : null;
  const blocked = noMatch !== null || (!rawTarget && picked.pending);
  const rows = useLoad(
    () =>
      blocked
        ? Promise.resolve(null)
        : api<Page<AuditEntry>>('GET', `/v1/audit${query({ ...filters, limit: 50, cursor: pager.cursor })}`),
    [JSON.stringify(filters), pager.cursor, blocked],
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
        <Suggest
          label="Actor"
          value={actor}
          placeholder="admin key name"
          options={Object.values(names)}
          onChange={setActor}
        />
        <Suggest
          label="Target"
          value={target}
          placeholder="key name or id"
          options={picked.suggestions.map((k) => k.name)}
          onChange={setTarget}
        />
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
      <ErrorNote error={rows.error} onRetry={rows.reload} />
      {noMatch !== null ? (
        <Empty>{noMatch} Pick one from the suggestions, or clear the field.</Empty>
      ) : rows.data !== null ? (
        <AuditTable rows={rows.data.items} names={names} />
      ) : rows.loading || blocked ? (
        <Loading what="the audit log" />
      ) : null}
      <Pager page={pager.page} nextCursor={rows.data?.nextCursor} onNext={pager.next} onPrev={pager.prev} />
    </section>
  );
}
