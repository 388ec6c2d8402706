import { useState, type ReactNode } from 'react';
import { api, query, type LogEntry, type Page } from '../api.js';
import { LogTable } from '../components/tables.js';
import { ErrorNote, Loading, Pager, usePager } from '../components/ui.js';
import { VERIFY_CODES } from '../../../src/core/codes.js';
import { useDebounced, useLoad } from '../hooks.js';

/** The verification log, filtered by key and outcome. */
export function LogsPage({ keyId: initialKey }: { keyId: string | undefined }): ReactNode {
  const [keyId, setKeyId] = useState(initialKey ?? '');
  const [code, setCode] = useState('');
  const filters = { keyId: useDebounced(keyId.trim(), 250), code };
  const pager = usePager(filters);
  const logs = useLoad(
    () => api<Page<LogEntry>>('GET', `/v1/logs${query({ ...filters, limit: 50, cursor: pager.cursor })}`),
    [JSON.stringify(filters), pager.cursor],
  );
  return (
    <section aria-labelledby="logs-title">
      <h1 id="logs-title">Verification log</h1>
      <form
        className="filters"
        role="search"
        aria-label="Filter verifications"
        onSubmit={(e) => {
          e.preventDefault();
        }}
      >
        <label>
          Key id
          <input
            value={keyId}
            placeholder="key_…"
            spellCheck={false}
            onChange={(e) => {
              setKeyId(e.target.value);
            }}
          />
        </label>
        <label>
          Outcome
          <select
            value={code}
            onChange={(e) => {
              setCode(e.target.value);
            }}
          >
            <option value="">All</option>
            {VERIFY_CODES.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
      </form>
      <ErrorNote error={logs.error} />
      {logs.data !== null ? (
        <LogTable rows={logs.data.items} showKey />
      ) : logs.loading ? (
        <Loading what="verifications" />
      ) : null}
      <Pager page={pager.page} nextCursor={logs.data?.nextCursor} onNext={pager.next} onPrev={pager.prev} />
    </section>
  );
}
