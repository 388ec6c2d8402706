import { useState, type ReactNode } from 'react';
import type { AuditEntry, LogEntry } from '../api.js';
import { Empty, When } from './ui.js';

/**
 * What makes a row other than a call answered with its code, in words beside the code (a row read
 * as a refusal would send someone chasing a caller that was served): a narrowing's shadow row
 * (docs/narrowing.md), a minute's overflow row and a call the database refused to store as it was
 * (docs/verification-log.md).
 */
/** What an overflow row is (a shadow row says what it is in its code cell). */
function RowMarker({ row }: { row: LogEntry }): ReactNode {
  // A refused call's row keeps its environment; a row-cap overflow row has none ('*').
  if (row.overflow && row.environment !== '*')
    return (
      <span className="row-marker">
        <span className="badge marker">details not kept</span> the database refused to store these calls as
        they were: counted, without client IP, agent or permission
      </span>
    );
  if (row.overflow)
    return (
      <span className="row-marker">
        <span className="badge marker">overflow row</span> calls past the minute&apos;s row limit, not told
        apart
      </span>
    );
  return null;
}

/** Verification log rows (newest first). */
export function LogTable({
  rows,
  showKey,
  names,
  filtered = false,
}: {
  rows: LogEntry[];
  showKey: boolean;
  /** Key names by id: the key column shows names, the id on hover. */
  names?: ReadonlyMap<string, string>;
  filtered?: boolean;
}): ReactNode {
  if (rows.length === 0)
    return filtered ? (
      <Empty>No verification matches these filters.</Empty>
    ) : (
      <Empty>
        No verifications recorded yet (they are written within a second or so, one row per minute per distinct
        call).
      </Empty>
    );
  return (
    // Focusable: on a phone the table scrolls sideways, and a row without links has nothing to tab to.
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Verifications table">
      <table>
        <caption className="sr-only">Verifications</caption>
        <thead>
          <tr>
            <th scope="col">Minute</th>
            {showKey ? <th scope="col">Key</th> : null}
            <th scope="col">Outcome</th>
            <th scope="col">Calls</th>
            <th scope="col">Environment asked</th>
            <th scope="col">Permission</th>
            <th scope="col">Client IP</th>
            <th scope="col">Latency (mean / max)</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id}>
              <td>
                <When at={r.minute} absolute />
              </td>
              {showKey ? (
                <td className="mono">
                  {r.overflow && r.environment === '*' ? (
                    <span className="muted">other calls (row limit of the minute reached)</span>
                  ) : r.keyId !== null ? (
                    <a
                      href={`#/keys/${r.keyId}`}
                      title={`${r.keyId}${r.keyStart !== null ? ` (${r.keyStart}…)` : ''}`}
                    >
                      {names?.get(r.keyId) ?? r.keyStart ?? r.keyId}
                    </a>
                  ) : (
                    (r.keyStart ?? '—')
                  )}
                </td>
              ) : null}
              <td>
                {r.shadow ? (
                  // Not an outcome: the calls were served; a narrowing's shadow set would have refused them.
                  <span
                    className="code code-shadow"
                    title="A narrowing's shadow period: the narrower permissions would have refused these calls. They were served (VALID)."
                  >
                    Narrowing would refuse: {r.code}
                  </span>
                ) : (
                  <span className={`code code-${r.code}`}>{r.code}</span>
                )}
                <RowMarker row={r} />
              </td>
              <td title={`first ${r.firstAt}, last ${r.lastAt}`}>{r.count.toLocaleString('en-US')}</td>
              <td>{r.environment}</td>
              <td className="mono">
                {r.permissions.join(', ') || '—'}
                {r.resource !== null ? ` on ${r.resource}` : ''}
              </td>
              <td className="mono">{r.ip ?? '—'}</td>
              <td>{r.shadow ? '—' : `${r.latencyUs} / ${r.latencyMaxUs} µs`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const show = (v: unknown): string => (v === undefined ? '—' : JSON.stringify(v));

/** The fields whose value differs between two records (top level; nested values compared whole). */
export function changedFields(
  before: unknown,
  after: unknown,
): { field: string; from: unknown; to: unknown }[] {
  const obj = (v: unknown): Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const b = obj(before);
  const a = obj(after);
  const out: { field: string; from: unknown; to: unknown }[] = [];
  for (const field of new Set([...Object.keys(b), ...Object.keys(a)])) {
    // Bookkeeping that changes on every write says nothing about the change itself.
    if (field === 'updatedAt' || field === 'version') continue;
    if (JSON.stringify(b[field]) !== JSON.stringify(a[field]))
      out.push({ field, from: b[field], to: a[field] });
  }
  return out;
}

/** An audit entry's change: only what changed (`status: "active" → "disabled"`), the records on demand. */
function Change({ before, after }: { before: unknown; after: unknown }): ReactNode {
  const [open, setOpen] = useState(false);
  if (before === null && after === null) return <span className="muted">—</span>;
  const created = before === null;
  const diff = created ? [] : changedFields(before, after);
  return (
    <div className="change">
      {created ? (
        <span className="muted">created </span>
      ) : diff.length === 0 ? (
        <span className="muted">no field changed </span>
      ) : (
        <ul className="plain diff-list">
          {diff.map((d) => (
            <li key={d.field}>
              <code>{d.field}</code>: <span className="from">{show(d.from)}</span> →{' '}
              <span className="to">{show(d.to)}</span>
            </li>
          ))}
        </ul>
      )}
      <button
        type="button"
        className="link"
        aria-expanded={open}
        onClick={() => {
          setOpen(!open);
        }}
      >
        {open ? 'Hide full record' : 'Full record'}
      </button>
      {open ? (
        <div className="diff">
          <div>
            <strong>Before</strong>
            <pre>{JSON.stringify(before, null, 2)}</pre>
          </div>
          <div>
            <strong>After</strong>
            <pre>{JSON.stringify(after, null, 2)}</pre>
          </div>
        </div>
      ) : null}
    </div>
  );
}

/** The `name` a record in an audit entry carries, if any. */
function nameIn(v: unknown): string | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const n = (v as { name?: unknown }).name;
  return typeof n === 'string' ? n : undefined;
}

/** An id shown by its name where one is known, the id on hover; the bare id otherwise. */
function Named({ id, names }: { id: string; names: Map<string, string> }): ReactNode {
  const name = names.get(id);
  return name === undefined ? <span className="mono">{id}</span> : <span title={id}>{name}</span>;
}

/**
 * Audit rows: who did what to which target, when and from where, and what changed. Actors and
 * targets are shown by name: from `names` (admin keys the caller may list, the session's own
 * key) and from the records the entries themselves carry; the id stays on hover.
 */
export function AuditTable({
  rows,
  names: known = {},
}: {
  rows: AuditEntry[];
  names?: Record<string, string>;
}): ReactNode {
  if (rows.length === 0) return <Empty>No audit entries match.</Empty>;
  const names = new Map(Object.entries(known));
  for (const r of rows) {
    const n = nameIn(r.after) ?? nameIn(r.before);
    if (r.target !== null && n !== undefined && !names.has(r.target)) names.set(r.target, n);
    // The server names the actor: a member by their email, an admin key by its name.
    const who = r.actorInfo?.type === 'member' ? r.actorInfo.email : r.actorInfo?.name;
    if (r.actor !== null && who !== undefined) names.set(r.actor, who);
  }
  return (
    <div className="table-wrap">
      <table>
        <caption className="sr-only">Audit entries</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">When</th>
            <th scope="col">Action</th>
            <th scope="col">Actor</th>
            <th scope="col">Target</th>
            <th scope="col">From</th>
            <th scope="col">Change</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id}>
              <td>{r.id}</td>
              <td>
                <When at={r.at} absolute />
              </td>
              <td className="mono">{r.action}</td>
              <td>{r.actor === null ? 'system' : <Named id={r.actor} names={names} />}</td>
              <td>
                {r.target === null ? (
                  '—'
                ) : r.target.startsWith('key_') ? (
                  <a href={`#/keys/${r.target}`}>
                    <Named id={r.target} names={names} />
                  </a>
                ) : (
                  <Named id={r.target} names={names} />
                )}
              </td>
              <td className="mono">{r.ip ?? '—'}</td>
              <td>
                <Change before={r.before} after={r.after} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
