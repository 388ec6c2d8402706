import { ENVIRONMENTS } from '../../../src/core/codes.js';
import { useEffect, useState, type ReactNode } from 'react';
import { api, can, query, type KeyRecord, type Page, type Policy, type Session } from '../api.js';
import { CreateKeyDialog } from '../components/create-key.js';
import { Empty, EnvBadge, ErrorNote, Loading, Pager, StatusBadge, When, usePager } from '../components/ui.js';
import { masked, permissionsSummary, rateLimitText } from '../format.js';
import { useDebounced, useLoad, useReachable } from '../hooks.js';

const PAGE_SIZE = 50;
const DAY = 86_400_000;
type SortBy = 'name' | 'environment' | 'status' | 'team' | 'lastUsedAt' | 'expiresAt' | 'createdAt';

/** `status` '' means "all but deleted" (the default); 'all' includes deleted keys. */
interface Filters {
  q: string;
  environment: string;
  status: string;
  team: string;
}

/** The filters live in the URL (`#/keys?environment=staging`), so Back from a key returns to them. */
function filtersFromUrl(search: string): Filters {
  const p = new URLSearchParams(search);
  return {
    q: p.get('q') ?? '',
    environment: p.get('environment') ?? '',
    status: p.get('status') ?? '',
    team: p.get('team') ?? '',
  };
}

function compare(a: KeyRecord, b: KeyRecord, by: SortBy): number {
  const v = (k: KeyRecord): string =>
    by === 'team' ? (k.owner.team ?? '') : by === 'expiresAt' ? (k.expiresAt ?? '~') : (k[by] ?? '');
  return v(a).localeCompare(v(b));
}

/**
 * The API Keys page: filters (kept in the URL), search, a count, sortable columns, keyset
 * pagination (fast at any number of keys; the pager only when there is more than one page),
 * create. Deleted keys are hidden unless asked for. Expiry inside the policy's rotation window
 * is highlighted.
 */
export function KeysPage({ session, search }: { session: Session; search: string }): ReactNode {
  const initial = filtersFromUrl(search);
  const [environment, setEnvironment] = useState(initial.environment);
  const [status, setStatus] = useState(initial.status);
  const [team, setTeam] = useState(initial.team);
  const [q, setQ] = useState(initial.q);
  const [sort, setSort] = useState<{ by: SortBy; desc: boolean }>({ by: 'createdAt', desc: true });
  const [creating, setCreating] = useState(false);
  const reachable = useReachable();
  const filters = {
    environment,
    status,
    team,
    q: useDebounced(q.trim(), 250),
  };
  const filterKey = JSON.stringify(filters);
  useEffect(() => {
    // replaceState: no history entry per keystroke, and no hashchange (the router's signal).
    const qs = query(filters).replace(/^\?/, '');
    window.history.replaceState(null, '', `#/keys${qs === '' ? '' : `?${qs}`}`);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- filterKey is the filters' content
  }, [filterKey]);
  const pager = usePager(filters);
  const keys = useLoad(
    () =>
      api<Page<KeyRecord>>(
        'GET',
        `/v1/keys${query({
          ...filters,
          status: status === 'all' ? '' : status,
          limit: PAGE_SIZE,
          cursor: pager.cursor,
        })}`,
      ),
    [filterKey, pager.cursor],
  );
  const policy = useLoad(() => api<Policy>('GET', '/v1/policy'), []);
  // The teams to choose from: those owning keys (one read of up to 500 keys, when the page opens).
  const teamList = useLoad(() => api<Page<KeyRecord>>('GET', '/v1/keys?limit=500'), []);
  const teams = [
    ...new Set([
      ...(teamList.data?.items ?? []).flatMap((k) => (k.owner.team === null ? [] : [k.owner.team])),
      ...(team !== '' ? [team] : []),
    ]),
  ].sort();
  const warnDays = policy.data?.rotationWarningDays ?? 30;
  const items = (keys.data?.items ?? [])
    .filter((k) => status !== '' || k.status !== 'deleted')
    .sort((a, b) => (sort.desc ? -1 : 1) * compare(a, b, sort.by));
  const filtered = Object.values(filters).some((v) => v !== '');
  const morePages = keys.data !== null && (pager.page > 1 || keys.data.nextCursor !== null);
  // A function, not a component: a component made here would remount and drop the focus.
  const sortable = (by: SortBy, label: string): ReactNode => (
    <th
      key={by}
      scope="col"
      aria-sort={sort.by === by ? (sort.desc ? 'descending' : 'ascending') : undefined}
    >
      <button
        type="button"
        className="sort"
        onClick={() => {
          setSort({ by, desc: sort.by === by ? !sort.desc : false });
        }}
      >
        {label}
        <span aria-hidden="true">{sort.by === by ? (sort.desc ? ' ▼' : ' ▲') : ''}</span>
      </button>
    </th>
  );

  return (
    <section aria-labelledby="keys-title">
      <div className="page-head">
        <h1 id="keys-title">API Keys</h1>
        {can(session, 'keys:write') ? (
          <button
            type="button"
            className="primary"
            disabled={!reachable}
            onClick={() => {
              setCreating(true);
            }}
          >
            Create key
          </button>
        ) : null}
      </div>
      <form
        className="filters"
        role="search"
        aria-label="Filter keys"
        onSubmit={(e) => {
          e.preventDefault();
        }}
      >
        <label>
          Search by name
          <input
            type="search"
            value={q}
            onChange={(e) => {
              setQ(e.target.value);
            }}
            placeholder="crm-prod…"
          />
        </label>
        <label>
          Environment
          <select
            value={environment}
            onChange={(e) => {
              setEnvironment(e.target.value);
            }}
          >
            <option value="">All</option>
            {ENVIRONMENTS.map((e) => (
              <option key={e} value={e}>
                {e}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select
            value={status}
            onChange={(e) => {
              setStatus(e.target.value);
            }}
          >
            <option value="">All but deleted</option>
            <option value="all">All, deleted included</option>
            <option value="active">Active</option>
            <option value="disabled">Inactive</option>
            <option value="expired">Expired</option>
            <option value="deleted">Deleted</option>
          </select>
        </label>
        <label>
          Owner team
          <select
            value={team}
            onChange={(e) => {
              setTeam(e.target.value);
            }}
          >
            <option value="">Any</option>
            {teams.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        {filtered ? (
          <button
            type="button"
            className="clear"
            onClick={() => {
              setQ('');
              setEnvironment('');
              setStatus('');
              setTeam('');
            }}
          >
            Clear filters
          </button>
        ) : null}
      </form>
      <ErrorNote error={keys.error} onRetry={keys.reload} />
      {keys.loading && keys.data === null ? <Loading what="keys" /> : null}
      {keys.data !== null ? (
        <p className="muted" role="status" data-testid="key-count">
          {items.length === 0
            ? ''
            : `${items.length}${morePages ? '+' : ''} ${items.length === 1 ? 'key' : 'keys'}${morePages ? ` on page ${pager.page}` : ''}${status === '' ? ' (deleted keys hidden)' : ''}`}
        </p>
      ) : null}
      {keys.data !== null && items.length === 0 ? (
        <Empty>
          {filtered
            ? 'No key matches these filters.'
            : 'No keys yet. Create one for each system and environment that calls your API.'}
        </Empty>
      ) : null}
      {keys.data !== null && items.length > 0 ? (
        <div className="table-wrap">
          <table aria-busy={keys.loading}>
            <caption className="sr-only">API keys</caption>
            <thead>
              <tr>
                {sortable('name', 'Name')}
                {sortable('environment', 'Environment')}
                {sortable('status', 'Status')}
                <th scope="col">Permissions</th>
                <th scope="col">Rate limits</th>
                {sortable('team', 'Owner team')}
                {sortable('lastUsedAt', 'Last used')}
                {sortable('expiresAt', 'Expires')}
                {sortable('createdAt', 'Created')}
              </tr>
            </thead>
            <tbody>
              {items.map((k) => (
                <tr key={k.id}>
                  <th scope="row">
                    <a href={`#/keys/${k.id}`}>{k.name}</a>
                    <div className="muted mono">{masked(k)}</div>
                  </th>
                  <td>
                    <EnvBadge env={k.environment} />
                  </td>
                  <td>
                    <StatusBadge status={k.status} />
                  </td>
                  <td className="mono" title={k.permissions.join('\n')}>
                    {permissionsSummary(k.permissions)}
                  </td>
                  <td>
                    {k.ratelimits.length === 0 ? (
                      <span className="muted">none</span>
                    ) : (
                      k.ratelimits.map(rateLimitText).join(', ')
                    )}
                  </td>
                  <td>{k.owner.team ?? <span className="muted">unowned</span>}</td>
                  <td>
                    <When at={k.lastUsedAt} />
                  </td>
                  <td
                    className={
                      k.expiresAt !== null &&
                      k.status !== 'deleted' &&
                      Date.parse(k.expiresAt) - Date.now() < warnDays * DAY
                        ? 'expiring'
                        : undefined
                    }
                  >
                    <When at={k.expiresAt} never="never" />
                  </td>
                  <td>
                    <When at={k.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {morePages ? (
        <Pager page={pager.page} nextCursor={keys.data?.nextCursor} onNext={pager.next} onPrev={pager.prev} />
      ) : null}
      {creating ? (
        <CreateKeyDialog
          team={session.adminKey.team}
          onClose={(created) => {
            setCreating(false);
            if (created) keys.reload();
          }}
        />
      ) : null}
    </section>
  );
}
