import { useEffect, useState, type ReactNode } from 'react';
import { api, query, type LogEntry, type Page } from '../api.js';
import { Suggest, useKeyNames, usePickedKey } from '../components/names.js';
import { LogTable } from '../components/tables.js';
import { Empty, ErrorNote, Loading, Pager, usePager } from '../components/ui.js';
import { VERIFY_CODES } from '../../../src/core/codes.js';
import { useLoad } from '../hooks.js';

/**
 * The verification log, filtered by key (picked by name, with suggestions; an id works too) and
 * outcome. A name no key has says so, instead of an empty log.
 */
export function LogsPage({ keyId: initialKey }: { keyId: string | undefined }): ReactNode {
  const [keyText, setKeyText] = useState(initialKey ?? '');
  const [code, setCode] = useState('');
  // '' both, 'false' real calls only, 'true' a narrowing's would-have-refused rows only.
  const [shadow, setShadow] = useState('');
  const initialName = useKeyNames(initialKey === undefined ? [] : [initialKey]).get(initialKey ?? '');
  // Arriving from a key's page: the field shows its name once known.
  useEffect(() => {
    if (initialName !== undefined) setKeyText((t) => (t === initialKey ? initialName : t));
  }, [initialName, initialKey]);
  const picked = usePickedKey(keyText);
  const filters = { keyId: picked.id ?? undefined, code, shadow };
  const pager = usePager(filters);
  const blocked = picked.pending || picked.id === null;
  const logs = useLoad(
    () =>
      blocked
        ? Promise.resolve(null)
        : api<Page<LogEntry>>('GET', `/v1/logs${query({ ...filters, limit: 50, cursor: pager.cursor })}`),
    [JSON.stringify(filters), pager.cursor, blocked],
  );
  const names = useKeyNames((logs.data?.items ?? []).flatMap((r) => (r.keyId === null ? [] : [r.keyId])));
  const filtered = keyText.trim() !== '' || code !== '' || shadow !== '';
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
        <Suggest
          label="Key"
          value={keyText}
          placeholder="name or key_…"
          options={picked.suggestions.map((k) => k.name)}
          onChange={setKeyText}
        />
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
        <label>
          Calls
          <select
            value={shadow}
            onChange={(e) => {
              setShadow(e.target.value);
            }}
          >
            <option value="">All</option>
            <option value="false">Served calls only</option>
            <option value="true">Narrowing shadow only</option>
          </select>
        </label>
        {filtered ? (
          <button
            type="button"
            className="clear"
            onClick={() => {
              setKeyText('');
              setCode('');
              setShadow('');
            }}
          >
            Clear filters
          </button>
        ) : null}
      </form>
      <ErrorNote error={logs.error} onRetry={logs.reload} />
      {picked.id === null ? (
        <Empty>
          No key is named “{keyText.trim()}”.{' '}
          {picked.suggestions.length > 0
            ? `Did you mean ${picked.suggestions
                .slice(0, 3)
                .map((k) => k.name)
                .join(', ')}?`
            : 'Type part of a name to see suggestions.'}
        </Empty>
      ) : logs.data !== null ? (
        <LogTable rows={logs.data.items} showKey names={names} filtered={filtered} />
      ) : logs.loading || blocked ? (
        <Loading what="verifications" />
      ) : null}
      <Pager page={pager.page} nextCursor={logs.data?.nextCursor} onNext={pager.next} onPrev={pager.prev} />
    </section>
  );
}
