// Role picking in the key form (docs/roles.md): one checkbox per role, with its permissions.
import { useEffect, useState, type ReactNode } from 'react';
import { api, messageOf, type Role } from '../api.js';

export function RolePicker(props: { roles: string[]; set: (roles: string[]) => void }): ReactNode {
  const [all, setAll] = useState<Role[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<{ items: Role[] }>('GET', '/v1/roles').then(
      (r) => {
        setAll(r.items);
      },
      (e: unknown) => {
        setError(`Roles could not be read: ${messageOf(e)}`);
      },
    );
  }, []);
  const toggle = (name: string, on: boolean): void => {
    props.set(on ? [...props.roles, name] : props.roles.filter((r) => r !== name));
  };
  // Roles the key holds that are not listed (yet) stay visible, so an edit never drops them unseen.
  const names = [...new Set([...(all ?? []).map((r) => r.name), ...props.roles])];
  return (
    <fieldset data-testid="role-picker">
      <legend>Roles</legend>
      <p className="muted">The key holds each role's permissions as well as its own.</p>
      {error !== null ? <p className="notice">{error}</p> : null}
      {all !== null && names.length === 0 ? (
        <p className="muted">
          No roles yet (<a href="#/roles">create one</a>).
        </p>
      ) : null}
      <ul className="plain">
        {names.map((name) => {
          const role = all?.find((r) => r.name === name);
          return (
            <li key={name}>
              <label>
                <input
                  type="checkbox"
                  checked={props.roles.includes(name)}
                  onChange={(e) => {
                    toggle(name, e.target.checked);
                  }}
                />{' '}
                {name}{' '}
                <span className="muted mono">{role === undefined ? '' : role.permissions.join(', ')}</span>
              </label>
            </li>
          );
        })}
      </ul>
    </fieldset>
  );
}
