import { ENVIRONMENTS } from '../../../src/core/codes.js';
import { useState, type ReactNode } from 'react';
import { api, can, query, type KeyRecord, type Page, type Session } from '../api.js';
import { CreateKeyDialog } from '../components/create-key.js';
import { Empty, EnvBadge, ErrorNote, Loading, Pager, StatusBadge, When, usePager } from '../components/ui.js';
import { masked, permissionsSummary, rateLimitText } from '../format.js';
import { useDebounced, useLoad } from '../hooks.js';

const PAGE_SIZE = 50;

/** The API Keys page: filters, search, keyset pagination (fast at any number of keys), create. */
export function KeysPage({ session }: { session: Session }): ReactNode {
  const [environment, setEnvironment] = useState('');
  const [status, setStatus] = useState('');
  const [team, setTeam] = useState('');
  const [q, setQ] = useState('');
  const [creating, setCreating] = useState(false);
  const filters = {
    environment,
    status,
    team: useDebounced(team.trim(), 250),
    q: useDebounced(q.trim(), 250),
  };
  const pager = usePager(filters);
  const keys = useLoad(
    () =>
      api<Page<KeyRecord>>('GET', `/v1/keys${query({ ...filters, limit: PAGE_SIZE, cursor: pager.cursor })}`),
    [JSON.stringify(filters), pager.cursor],
  );

  return (
    <section aria-labelledby="keys-title">
      <div className="page-head">
        <h1 id="keys-title">API Keys</h1>
        {can(session, 'keys:write') ? (
          <button
            type="button"
            className="primary"
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
            <option value="">All</option>
            <option value="active">Active</option>
            <option value="disabled">Inactive</option>
            <option value="expired">Expired</option>
            <option value="deleted">Deleted</option>
          </select>
        </label>
        <label>
          Owner team
          <input
            value={team}
            onChange={(e) => {
              setTeam(e.target.value);
            }}
            placeholder="any"
          />
        </label>
      </form>
      <ErrorNote error={keys.error} />
      {keys.loading && keys.data === null ? <Loading what="keys" /> : null}
      {keys.data !== null && keys.data.items.length === 0 ? (
        <Empty>
          {Object.values(filters).some((v) => v !== '')
            ? 'No key matches these filters.'
            : 'No keys yet. Create one for each system and environment that calls your API.'}
        </Empty>
      ) : null}
      {keys.data !== null && keys.data.items.length > 0 ? (
        <div className="table-wrap">
          <table aria-busy={keys.loading}>
            <caption className="sr-only">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Environment</th>
                <th scope="col">Status</th>
                <th scope="col">Permissions</th>
                <th scope="col">Rate limits</th>
                <th scope="col">Owner team</th>
                <th scope="col">Last used</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {keys.data.items.map((k) => (
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
                  <td>
                    <When at={k.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager page={pager.page} nextCursor={keys.data?.nextCursor} onNext={pager.next} onPrev={pager.prev} />
      {creating ? (
        <CreateKeyDialog
          onClose={(created) => {
            setCreating(false);
            if (created) keys.reload();
          }}
        />
      ) : null}
    </section>
  );
}
