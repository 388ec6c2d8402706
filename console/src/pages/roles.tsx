// The Roles page (docs/roles.md): named permission sets many keys hold. Global admin keys with
// keys:write create, edit and delete them; every key that can read keys sees them.
import { useState, type ReactNode } from 'react';
import { api, can, type Role, type Session } from '../api.js';
import { ConfirmDialog, Dialog, Empty, ErrorNote, Loading, toast, useSubmit } from '../components/ui.js';
import { useLoad } from '../hooks.js';

const lines = (s: string): string[] =>
  s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter((x) => x !== '');

function RoleDialog(props: { role: Role | null; onClose: (changed: boolean) => void }): ReactNode {
  const editing = props.role !== null;
  const [name, setName] = useState(props.role?.name ?? '');
  const [permissions, setPermissions] = useState(props.role?.permissions.join('\n') ?? '');
  const [description, setDescription] = useState(props.role?.description ?? '');
  const s = useSubmit();
  return (
    <Dialog
      title={editing ? `Edit role ${name}` : 'Create a role'}
      onClose={() => {
        props.onClose(false);
      }}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const body = {
            permissions: lines(permissions),
            description: description.trim() === '' ? null : description.trim(),
          };
          s.run(
            () =>
              editing
                ? api<Role>('PATCH', `/v1/roles/${encodeURIComponent(name)}`, body)
                : api<Role>('POST', '/v1/roles', { name: name.trim(), ...body }),
            (r) => {
              toast(
                editing
                  ? `Role ${r.name} changed: its ${r.keys} key(s) follow at once.`
                  : `Role ${r.name} created.`,
              );
              props.onClose(true);
            },
          );
        }}
      >
        {editing ? null : (
          <label>
            Name
            <input
              data-autofocus
              value={name}
              required
              pattern="[a-z][a-z0-9_.\-]{0,63}"
              onChange={(e) => {
                setName(e.target.value);
              }}
              placeholder="billing-reader"
            />
          </label>
        )}
        <label>
          Permissions (one per line)
          <textarea
            rows={5}
            className="mono"
            value={permissions}
            onChange={(e) => {
              setPermissions(e.target.value);
            }}
            placeholder={'billing:read\ninvoices:read'}
          />
        </label>
        <label>
          Description
          <input
            value={description}
            onChange={(e) => {
              setDescription(e.target.value);
            }}
          />
        </label>
        {editing && props.role !== null && props.role.keys > 0 ? (
          <p className="notice">
            {props.role.keys} key(s) hold this role: their verifications follow the change at once. A change
            that would break a holding key's policy is refused.
          </p>
        ) : null}
        <ErrorNote error={s.error} />
        <div className="actions">
          <button
            type="button"
            onClick={() => {
              props.onClose(false);
            }}
          >
            Cancel
          </button>
          <button type="submit" className="primary" disabled={s.busy}>
            {editing ? 'Save role' : 'Create role'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function RolesPage({ session }: { session: Session }): ReactNode {
  const roles = useLoad(() => api<{ items: Role[] }>('GET', '/v1/roles'), []);
  const [editing, setEditing] = useState<Role | null | 'new'>(null);
  const [deleting, setDeleting] = useState<Role | null>(null);
  // Roles are deployment-wide: only global keys change them (docs/roles.md).
  const manage = can(session, 'keys:write') && session.adminKey.team === null;
  const items = roles.data?.items ?? [];
  return (
    <section aria-labelledby="roles-title">
      <div className="page-head">
        <h1 id="roles-title">Roles</h1>
        {manage ? (
          <button
            type="button"
            className="primary"
            onClick={() => {
              setEditing('new');
            }}
          >
            Create role
          </button>
        ) : null}
      </div>
      <p className="muted">
        A role is a named set of permissions many keys hold; changing it changes every holding key at once.
        {manage ? '' : ' Roles are deployment-wide: a global admin key manages them.'}
      </p>
      <ErrorNote error={roles.error} />
      {roles.loading && roles.data === null ? <Loading what="roles" /> : null}
      {roles.data !== null && items.length === 0 ? <Empty>No roles yet.</Empty> : null}
      {items.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Roles</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Permissions</th>
                <th scope="col">Keys</th>
                <th scope="col">Description</th>
                {manage ? <th scope="col">Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.name}>
                  <th scope="row">{r.name}</th>
                  <td className="mono">{r.permissions.join(', ') || <span className="muted">none</span>}</td>
                  <td>{r.keys}</td>
                  <td>{r.description ?? ''}</td>
                  {manage ? (
                    <td>
                      <button
                        type="button"
                        onClick={() => {
                          setEditing(r);
                        }}
                      >
                        Edit
                      </button>{' '}
                      <button
                        type="button"
                        className="danger"
                        onClick={() => {
                          setDeleting(r);
                        }}
                      >
                        Delete
                      </button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {editing !== null ? (
        <RoleDialog
          role={editing === 'new' ? null : editing}
          onClose={(changed) => {
            setEditing(null);
            if (changed) roles.reload();
          }}
        />
      ) : null}
      {deleting !== null ? (
        <ConfirmDialog
          title={`Delete role ${deleting.name}?`}
          confirmLabel="Delete role"
          danger
          onConfirm={() => api('DELETE', `/v1/roles/${encodeURIComponent(deleting.name)}`)}
          onClose={(done) => {
            setDeleting(null);
            if (done) {
              toast(`Role ${deleting.name} deleted.`);
              roles.reload();
            }
          }}
        >
          <p>
            {deleting.keys > 0
              ? `${deleting.keys} key(s) still hold it: take it from them first, or the delete is refused.`
              : 'No key holds it.'}
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
