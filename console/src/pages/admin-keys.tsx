import { useState, type ReactNode } from 'react';
import { ADMIN_PERMISSIONS } from '../../../src/core/model.js';
import {
  api,
  messageOf,
  type AdminKeyRecord,
  type AdminPermission,
  type Page,
  type WithSecret,
} from '../api.js';
import {
  Dialog,
  ErrorNote,
  Loading,
  SecretDialog,
  useSubmit,
  Pager,
  StatusBadge,
  When,
  usePager,
} from '../components/ui.js';
import { masked } from '../format.js';
import { useLoad } from '../hooks.js';

function CreateAdminKey({ onClose }: { onClose: (created: boolean) => void }): ReactNode {
  const [name, setName] = useState('');
  const [team, setTeam] = useState('');
  const [perms, setPerms] = useState<AdminPermission[]>(['keys:read']);
  const s = useSubmit();
  const [created, setCreated] = useState<WithSecret<AdminKeyRecord> | null>(null);
  if (created !== null) {
    return (
      <SecretDialog
        title={`Admin key created: ${created.record.name}`}
        secret={created.key}
        onClose={() => {
          setCreated(null);
          onClose(true);
        }}
      />
    );
  }
  return (
    <Dialog
      title="Create an admin key"
      onClose={() => {
        onClose(false);
      }}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (perms.length === 0) {
            s.setError('Choose at least one admin permission.');
            return;
          }
          const body = {
            name: name.trim(),
            permissions: perms,
            team: team.trim() === '' ? null : team.trim(),
          };
          // One request at a time: a second click must not create a second key nobody sees.
          if (!s.busy)
            s.run(() => api<WithSecret<AdminKeyRecord>>('POST', '/v1/admin-keys', body), setCreated);
        }}
      >
        <label htmlFor="ak-name">Name</label>
        <input
          id="ak-name"
          required
          value={name}
          onChange={(e) => {
            setName(e.target.value);
          }}
        />
        <label htmlFor="ak-team">Limit to owner team (optional)</label>
        <input
          id="ak-team"
          value={team}
          onChange={(e) => {
            setTeam(e.target.value);
          }}
        />
        <fieldset>
          <legend>Admin permissions</legend>
          {ADMIN_PERMISSIONS.map((p) => (
            <div className="field check" key={p}>
              <input
                id={`ak-perm-${p}`}
                type="checkbox"
                checked={perms.includes(p)}
                onChange={(e) => {
                  setPerms(e.target.checked ? [...perms, p] : perms.filter((x) => x !== p));
                }}
              />
              <label htmlFor={`ak-perm-${p}`}>
                <code>{p}</code>
                {p === '*' ? ' (everything: root)' : ''}
              </label>
            </div>
          ))}
        </fieldset>
        <ErrorNote error={s.error} />
        <div className="actions">
          <button
            type="button"
            onClick={() => {
              onClose(false);
            }}
          >
            Cancel
          </button>
          <button type="submit" className="primary" disabled={s.busy}>
            Create admin key
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** Admin keys (for `admin:manage` holders): list, create (shown once), disable, enable, delete. */
export function AdminKeysPage(): ReactNode {
  const pager = usePager({});
  const list = useLoad(
    () =>
      api<Page<AdminKeyRecord>>(
        'GET',
        `/v1/admin-keys?limit=50${pager.cursor !== undefined ? `&cursor=${encodeURIComponent(pager.cursor)}` : ''}`,
      ),
    [pager.cursor],
  );
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = (k: AdminKeyRecord, action: 'disable' | 'enable' | 'delete'): void => {
    if (
      action === 'delete' &&
      !window.confirm(`Delete the admin key ${k.name}? Everything that uses it stops working.`)
    )
      return;
    const call =
      action === 'delete'
        ? api<AdminKeyRecord>('DELETE', `/v1/admin-keys/${k.id}`)
        : api<AdminKeyRecord>('POST', `/v1/admin-keys/${k.id}/${action}`, {});
    call.then(
      () => {
        setError(null);
        list.reload();
      },
      (e: unknown) => {
        setError(messageOf(e));
      },
    );
  };
  return (
    <section aria-labelledby="ak-title">
      <div className="page-head">
        <h1 id="ak-title">Admin keys</h1>
        <button
          type="button"
          className="primary"
          onClick={() => {
            setCreating(true);
          }}
        >
          Create admin key
        </button>
      </div>
      <ErrorNote error={error ?? list.error} />
      {list.data === null ? (
        list.loading ? (
          <Loading what="admin keys" />
        ) : null
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Admin keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Permissions</th>
                <th scope="col">Team</th>
                <th scope="col">Status</th>
                <th scope="col">Last used</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((k) => (
                <tr key={k.id}>
                  <th scope="row">
                    {k.name}
                    <div className="muted mono">{masked(k)}</div>
                  </th>
                  <td className="mono">{k.permissions.join(', ')}</td>
                  <td>{k.team ?? <span className="muted">all teams</span>}</td>
                  <td>
                    <StatusBadge status={k.status} />
                  </td>
                  <td>
                    <When at={k.lastUsedAt} />
                  </td>
                  <td>
                    {k.status === 'deleted' ? null : (
                      <div className="toolbar">
                        <button
                          type="button"
                          aria-label={`${k.status === 'disabled' ? 'Enable' : 'Disable'} ${k.name}`}
                          onClick={() => {
                            act(k, k.status === 'disabled' ? 'enable' : 'disable');
                          }}
                        >
                          {k.status === 'disabled' ? 'Enable' : 'Disable'}
                        </button>
                        <button
                          type="button"
                          className="danger"
                          aria-label={`Delete ${k.name}`}
                          onClick={() => {
                            act(k, 'delete');
                          }}
                        >
                          Delete
                        </button>
                      </div>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager page={pager.page} nextCursor={list.data?.nextCursor} onNext={pager.next} onPrev={pager.prev} />
      {creating ? (
        <CreateAdminKey
          onClose={(created) => {
            setCreating(false);
            if (created) list.reload();
          }}
        />
      ) : null}
    </section>
  );
}
