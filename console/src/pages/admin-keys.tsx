import { useState, type ReactNode } from 'react';
import { ADMIN_PERMISSIONS } from '../../../src/core/model.js';
import {
  api,
  type AdminKeyRecord,
  type AdminPermission,
  type Page,
  type Session,
  type WithSecret,
} from '../api.js';
import {
  ConfirmDialog,
  Dialog,
  ErrorNote,
  Loading,
  SecretDialog,
  useSubmit,
  Pager,
  StatusBadge,
  When,
  toast,
  usePager,
} from '../components/ui.js';
import { masked } from '../format.js';
import { useLoad } from '../hooks.js';

function CreateAdminKey({
  onClose,
  initialTeam,
}: {
  onClose: (created: boolean) => void;
  initialTeam: string;
}): ReactNode {
  const [name, setName] = useState(initialTeam === '' ? '' : `${initialTeam}-admin`);
  const [team, setTeam] = useState(initialTeam);
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

/** A key that can manage every admin key: the API refuses to lose the last active one (409). */
const isRoot = (k: AdminKeyRecord): boolean =>
  k.status === 'active' && k.team === null && k.permissions.includes('*');

type Pending = { k: AdminKeyRecord; action: 'disable' | 'enable' | 'delete' };

/**
 * Admin keys (for `admin:manage` holders): list, create (shown once), disable, enable, delete.
 * The key you are signed in with is marked; disabling asks first and says what stops working,
 * deleting needs the name typed, and the last active root key offers neither (the API refuses
 * it too). A change updates its row in place and a toast offers Undo where it can be undone.
 */
export function AdminKeysPage({ session, search }: { session: Session; search: string }): ReactNode {
  // `#/admin-keys?create=<team>` (the governance page's remedy) opens the form for that team.
  const createFor = new URLSearchParams(search).get('create');
  const pager = usePager({});
  const list = useLoad(
    () =>
      api<Page<AdminKeyRecord>>(
        'GET',
        `/v1/admin-keys?limit=50${pager.cursor !== undefined ? `&cursor=${encodeURIComponent(pager.cursor)}` : ''}`,
      ),
    [pager.cursor],
  );
  const [creating, setCreating] = useState(createFor !== null);
  const [pending, setPending] = useState<Pending | null>(null);
  // Rows changed on this page since the list was read: shown in place of the listed record.
  const [changed, setChanged] = useState<Record<string, AdminKeyRecord>>({});
  const rows = (list.data?.items ?? []).map((k) => changed[k.id] ?? k);
  const me = session.adminKey.id;
  // Only decidable when every admin key is on this page; the API decides otherwise.
  const roots = list.data?.nextCursor === null ? rows.filter(isRoot).length : Infinity;
  const lastRoot = (k: AdminKeyRecord): boolean => isRoot(k) && roots <= 1;
  const call = (k: AdminKeyRecord, action: Pending['action']): Promise<AdminKeyRecord> =>
    action === 'delete'
      ? api<AdminKeyRecord>('DELETE', `/v1/admin-keys/${k.id}`)
      : api<AdminKeyRecord>('POST', `/v1/admin-keys/${k.id}/${action}`, {});
  const run = async ({ k, action }: Pending): Promise<void> => {
    const after = await call(k, action);
    setChanged((c) => ({ ...c, [k.id]: after }));
    const undoable = action !== 'delete';
    toast(
      `${k.name} ${action === 'delete' ? 'deleted' : action === 'disable' ? 'disabled' : 'enabled'}.`,
      undoable
        ? async () => {
            const back = await call(after, action === 'disable' ? 'enable' : 'disable');
            setChanged((c) => ({ ...c, [k.id]: back }));
          }
        : undefined,
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
      <ErrorNote error={list.error} onRetry={list.reload} />
      {list.data === null ? (
        list.loading ? (
          <Loading what="admin keys" />
        ) : null
      ) : (
        <div className="table-wrap">
          <table className="cards">
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
              {rows.map((k) => (
                <tr key={k.id}>
                  <th scope="row">
                    {k.name}
                    {k.id === me ? (
                      <span className="badge you" title="The admin key this session signed in with">
                        you
                      </span>
                    ) : null}
                    <div className="muted mono">{masked(k)}</div>
                  </th>
                  <td className="mono" data-label="Permissions">
                    {k.permissions.join(', ')}
                  </td>
                  <td data-label="Team">{k.team ?? <span className="muted">all teams</span>}</td>
                  <td data-label="Status">
                    <StatusBadge status={k.status} />
                  </td>
                  <td data-label="Last used">
                    <When at={k.lastUsedAt} />
                  </td>
                  <td data-label="Actions">
                    {k.status === 'deleted' ? null : lastRoot(k) ? (
                      <span className="muted" title="Keywarden refuses to disable or delete it">
                        Last active root key: kept
                      </span>
                    ) : (
                      <div className="toolbar">
                        <button
                          type="button"
                          aria-label={`${k.status === 'disabled' ? 'Enable' : 'Disable'} ${k.name}`}
                          onClick={() => {
                            setPending({ k, action: k.status === 'disabled' ? 'enable' : 'disable' });
                          }}
                        >
                          {k.status === 'disabled' ? 'Enable' : 'Disable'}
                        </button>
                        <button
                          type="button"
                          className="danger"
                          aria-label={`Delete ${k.name}`}
                          onClick={() => {
                            setPending({ k, action: 'delete' });
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
      {list.data !== null && (pager.page > 1 || list.data.nextCursor !== null) ? (
        <Pager page={pager.page} nextCursor={list.data.nextCursor} onNext={pager.next} onPrev={pager.prev} />
      ) : null}
      {pending !== null ? (
        <ConfirmDialog
          title={`${pending.action === 'delete' ? 'Delete' : pending.action === 'disable' ? 'Disable' : 'Enable'} ${pending.k.name}?`}
          confirmLabel={
            pending.action === 'delete'
              ? 'Delete admin key'
              : pending.action === 'disable'
                ? 'Disable admin key'
                : 'Enable admin key'
          }
          danger={pending.action !== 'enable'}
          {...(pending.action === 'delete' ? { typed: pending.k.name } : {})}
          onConfirm={() => run(pending)}
          onClose={() => {
            setPending(null);
          }}
        >
          <AdminImpact p={pending} me={me} />
        </ConfirmDialog>
      ) : null}
      {creating ? (
        <CreateAdminKey
          initialTeam={createFor ?? ''}
          onClose={(created) => {
            setCreating(false);
            if (createFor !== null) window.history.replaceState(null, '', '#/admin-keys');
            if (created) {
              setChanged({});
              list.reload();
            }
          }}
        />
      ) : null}
    </section>
  );
}

/** What disabling or deleting an admin key stops, in words. */
function AdminImpact({ p, me }: { p: Pending; me: string }): ReactNode {
  const { k, action } = p;
  if (action === 'enable') return <p>The key is accepted again at once, with the same permissions.</p>;
  return (
    <>
      <p>
        {action === 'delete'
          ? 'Deleting is permanent: every request made with this key is refused from now on.'
          : 'Every request made with this key is refused from the moment you confirm; you can enable it again.'}{' '}
        It holds <code>{k.permissions.join(', ')}</code>
        {k.team === null ? ' on all teams' : ` on team ${k.team}`}.
      </p>
      <p className={k.lastUsedAt !== null ? 'warning impact-line' : 'impact-line'}>
        Last used <When at={k.lastUsedAt} />
        {k.permissions.includes('keys:verify') || k.permissions.includes('*')
          ? '; services that verify keys with it will get 401 and refuse their callers.'
          : '.'}
      </p>
      {k.id === me ? (
        <p className="warning">This is the key you are signed in with: your session ends with it.</p>
      ) : null}
    </>
  );
}
