import { useId, useState, type ReactNode } from 'react';
import { isPermission } from '../../../src/core/permissions.js';
import type { Policy } from '../api.js';
import type { KeyFormState } from './key-form.js';

/**
 * The key's permissions as removable chips, and a field to add one (with suggestions from keys
 * already issued), optionally narrowed to one resource id: `agents:invoke` + `agt_42`.
 */
export function PermissionFields(props: {
  form: KeyFormState;
  set: (patch: Partial<KeyFormState>) => void;
  policy: Policy | null;
  suggestions: readonly string[];
}): ReactNode {
  const { form: f, set } = props;
  const ids = { perm: useId(), res: useId(), list: useId() };
  const [perm, setPerm] = useState('');
  const [resource, setResource] = useState('');
  const [permError, setPermError] = useState<string | null>(null);
  const envPolicy = props.policy?.environments[f.environment];

  const addPermission = (): void => {
    const p = perm.trim() + (resource.trim() === '' ? '' : `:${resource.trim()}`);
    if (!isPermission(p)) {
      setPermError(
        `"${p}" is not a permission: write resource:action (agents:invoke), optionally narrowed to one id.`,
      );
      return;
    }
    if (resource.trim() !== '' && p.split(':').length !== 3) {
      setPermError('Only resource:action can be narrowed to one resource id.');
      return;
    }
    setPermError(null);
    if (!f.permissions.includes(p)) set({ permissions: [...f.permissions, p] });
    setPerm('');
    setResource('');
  };

  return (
    <fieldset>
      <legend>Permissions</legend>
      {f.permissions.length === 0 ? (
        <p className="hint">No permissions yet: the key can call nothing.</p>
      ) : null}
      <ul className="chips" aria-label="Granted permissions">
        {f.permissions.map((p) => (
          <li key={p}>
            <code>{p}</code>
            <button
              type="button"
              className="icon"
              aria-label={`Remove ${p}`}
              onClick={() => {
                set({ permissions: f.permissions.filter((x) => x !== p) });
              }}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      <div className="row">
        <div className="field">
          <label htmlFor={ids.perm}>Permission</label>
          <input
            id={ids.perm}
            list={ids.list}
            value={perm}
            placeholder="agents:invoke"
            spellCheck={false}
            onChange={(e) => {
              setPerm(e.target.value);
            }}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault();
                addPermission();
              }
            }}
          />
          <datalist id={ids.list}>
            {props.suggestions.map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        </div>
        <div className="field">
          <label htmlFor={ids.res}>Narrow to resource id</label>
          <input
            id={ids.res}
            value={resource}
            placeholder="agt_42 (optional)"
            spellCheck={false}
            onChange={(e) => {
              setResource(e.target.value);
            }}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault();
                addPermission();
              }
            }}
          />
        </div>
        <button type="button" onClick={addPermission} disabled={perm.trim() === ''}>
          Add permission
        </button>
      </div>
      {permError !== null ? (
        <p className="field-error" role="alert">
          {permError}
        </p>
      ) : null}
      {envPolicy !== undefined && !envPolicy.allowWildcards ? (
        <p className="hint">Wildcards (*) are not allowed for {f.environment} keys by the policy.</p>
      ) : null}
    </fieldset>
  );
}
