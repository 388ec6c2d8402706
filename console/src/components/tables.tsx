import { useState, type ReactNode } from 'react';
import type { AuditEntry, LogEntry } from '../api.js';
import { Empty, When } from './ui.js';

/** Verification log rows (newest first). */
export function LogTable({ rows, showKey }: { rows: LogEntry[]; showKey: boolean }): ReactNode {
  if (rows.length === 0)
    return (
      <Empty>
        No verifications recorded yet (they are written within a second or so, one row per minute per distinct
        call).
      </Empty>
    );
  return (
    <div className="table-wrap">
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
                <When at={r.minute} />
              </td>
              {showKey ? (
                <td className="mono">
                  {r.overflow ? (
                    <span className="muted">other calls (row limit of the minute reached)</span>
                  ) : r.keyId !== null ? (
                    <a href={`#/keys/${r.keyId}`}>{r.keyStart ?? r.keyId}</a>
                  ) : (
                    (r.keyStart ?? '—')
                  )}
                </td>
              ) : null}
              <td>
                <span className={`code code-${r.code === 'VALID' ? 'ok' : 'bad'}`}>{r.code}</span>
              </td>
              <td title={`first ${r.firstAt}, last ${r.lastAt}`}>{r.count.toLocaleString('en-US')}</td>
              <td>{r.environment}</td>
              <td className="mono">
                {r.permissions.join(', ') || '—'}
                {r.resource !== null ? ` on ${r.resource}` : ''}
              </td>
              <td className="mono">{r.ip ?? '—'}</td>
              <td>
                {r.latencyUs} / {r.latencyMaxUs} µs
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Change({ before, after }: { before: unknown; after: unknown }): ReactNode {
  const [open, setOpen] = useState(false);
  if (before === null && after === null) return <span className="muted">—</span>;
  return (
    <>
      <button
        type="button"
        className="link"
        aria-expanded={open}
        onClick={() => {
          setOpen(!open);
        }}
      >
        {open ? 'Hide change' : 'Show change'}
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
    </>
  );
}

/** Audit rows: who did what to which target, when and from where, with before/after on demand. */
export function AuditTable({ rows }: { rows: AuditEntry[] }): ReactNode {
  if (rows.length === 0) return <Empty>No audit entries match.</Empty>;
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
                <When at={r.at} />
              </td>
              <td className="mono">{r.action}</td>
              <td className="mono">{r.actor ?? 'system'}</td>
              <td className="mono">
                {r.target?.startsWith('key_') === true ? (
                  <a href={`#/keys/${r.target}`}>{r.target}</a>
                ) : (
                  (r.target ?? '—')
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
