import { useId, type ReactNode } from 'react';
import { api, query, type Page } from '../api.js';
import { useLoad } from '../hooks.js';
import type { Identity } from '../pages/identities.js';

/**
 * The key form's identity picker (docs/identities.md): the identities of the key's owner team
 * (a key links only to one of its own team), or none.
 */
export function IdentityPicker(props: { value: string; team: string; set: (id: string) => void }): ReactNode {
  const id = useId();
  const team = props.team.trim();
  const list = useLoad(
    () =>
      api<Page<Identity>>(
        'GET',
        `/v1/identities${query({ team: team === '' ? undefined : team, limit: 500 })}`,
      ),
    [team],
  );
  // Without a team, only the identities without one may be linked.
  const items = (list.data?.items ?? []).filter((i) => team !== '' || i.owner.team === null);
  const known = props.value === '' || items.some((i) => i.id === props.value);
  return (
    <div className="field">
      <label htmlFor={id}>Identity</label>
      <select
        id={id}
        value={props.value}
        aria-describedby={`${id}-hint`}
        onChange={(e) => {
          props.set(e.target.value);
        }}
      >
        <option value="">None</option>
        {!known ? <option value={props.value}>{props.value}</option> : null}
        {items.map((i) => (
          <option key={i.id} value={i.id}>
            {i.externalId}
            {i.name !== null ? ` — ${i.name}` : ''}
          </option>
        ))}
      </select>
      <p id={`${id}-hint`} className="hint">
        {list.error ?? 'the customer whose shared limits and credits apply too (optional)'}
      </p>
    </div>
  );
}
