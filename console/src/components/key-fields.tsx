import { useId, useState, type ReactNode } from 'react';
import { isPermission } from '../../../src/core/permissions.js';
import { violations } from '../../../src/core/policy.js';
import type { Policy } from '../api.js';
import { WINDOW_CHOICES, type Expiry, type KeyFormState } from './key-form.js';

type Setter = (patch: Partial<KeyFormState>) => void;

/** The naming rules of the policy, checked as the name is typed (the same code the server runs). */
export function nameProblems(f: KeyFormState, policy: Policy | null): string[] {
  if (policy === null || f.name.trim() === '') return [];
  return violations(
    {
      name: f.name.trim(),
      environment: f.environment,
      owner: { team: 'x', contact: 'x' },
      permissions: [],
      expiresAt: null,
      createdAt: new Date().toISOString(),
    },
    { ...policy, requireOwner: false, environments: NO_LIMITS },
  )
    .filter((v) => v.rule.startsWith('naming.'))
    .map((v) => v.detail);
}

/** Only the naming rules are checked while typing: the other rules are switched off here. */
const NO_LIMITS: Policy['environments'] = {
  production: { maxLifetimeDays: null, allowWildcards: true, defaultRateLimit: null },
  staging: { maxLifetimeDays: null, allowWildcards: true, defaultRateLimit: null },
  development: { maxLifetimeDays: null, allowWildcards: true, defaultRateLimit: null },
};

function Text(props: {
  label: string;
  value: string;
  set: (v: string) => void;
  hint?: string;
  required?: boolean;
  type?: string;
}): ReactNode {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>
        {props.label}
        {props.required === true ? <span aria-hidden="true"> *</span> : null}
      </label>
      <input
        id={id}
        type={props.type ?? 'text'}
        value={props.value}
        required={props.required}
        aria-describedby={props.hint !== undefined ? `${id}-hint` : undefined}
        onChange={(e) => {
          props.set(e.target.value);
        }}
      />
      {props.hint !== undefined ? (
        <p id={`${id}-hint`} className="hint">
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}

/** Everything a key is configured with; `mode` decides whether the environment can change. */
export function KeyFields(props: {
  form: KeyFormState;
  set: Setter;
  policy: Policy | null;
  suggestions: readonly string[];
  mode: 'create' | 'edit';
}): ReactNode {
  const { form: f, set, policy } = props;
  const ids = {
    name: useId(),
    env: useId(),
    perm: useId(),
    res: useId(),
    list: useId(),
    exp: useId(),
    ips: useId(),
  };
  const [perm, setPerm] = useState('');
  const [resource, setResource] = useState('');
  const [permError, setPermError] = useState<string | null>(null);
  const problems = nameProblems(f, policy);
  const envPolicy = policy?.environments[f.environment];

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
    <>
      <fieldset>
        <legend>Identity</legend>
        <div className="field">
          <label htmlFor={ids.name}>
            Name<span aria-hidden="true"> *</span>
          </label>
          <input
            id={ids.name}
            value={f.name}
            data-autofocus
            required
            autoComplete="off"
            spellCheck={false}
            aria-invalid={problems.length > 0}
            aria-describedby={`${ids.name}-hint`}
            onChange={(e) => {
              set({ name: e.target.value });
            }}
          />
          <div id={`${ids.name}-hint`} aria-live="polite">
            {problems.length > 0 ? (
              <ul className="field-error">
                {problems.map((p) => (
                  <li key={p}>{p}</li>
                ))}
              </ul>
            ) : (
              <p className="hint">system-environment-purpose, e.g. crm-prod-agent-call</p>
            )}
          </div>
        </div>
        <div className="field">
          <label htmlFor={ids.env}>Environment</label>
          <select
            id={ids.env}
            value={f.environment}
            disabled={props.mode === 'edit'}
            onChange={(e) => {
              set({ environment: e.target.value as KeyFormState['environment'] });
            }}
          >
            <option value="production">production</option>
            <option value="staging">staging</option>
            <option value="development">development</option>
          </select>
        </div>
        <Text
          label="System"
          value={f.system}
          set={(v) => {
            set({ system: v });
          }}
          hint="the program that calls, e.g. crm"
        />
        <Text
          label="Purpose"
          value={f.purpose}
          set={(v) => {
            set({ purpose: v });
          }}
        />
        <Text
          label="Owner team"
          value={f.team}
          required={policy?.requireOwner}
          set={(v) => {
            set({ team: v });
          }}
        />
        <Text
          label="Owner contact"
          value={f.contact}
          required={policy?.requireOwner}
          set={(v) => {
            set({ contact: v });
          }}
          hint="a person or mailbox who answers for the key"
        />
        <Text
          label="Customer id"
          value={f.customerId}
          set={(v) => {
            set({ customerId: v });
          }}
          hint="the tenant the key acts for (optional)"
        />
      </fieldset>

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

      <fieldset>
        <legend>Rate limits and credits</legend>
        {f.ratelimits.map((r, i) => (
          <div className="row" key={i}>
            <Text
              label={`Limit ${i + 1}: name`}
              value={r.name}
              set={(v) => {
                set({ ratelimits: f.ratelimits.map((x, j) => (j === i ? { ...x, name: v } : x)) });
              }}
            />
            <Text
              label={`Limit ${i + 1}: requests`}
              type="number"
              value={r.limit}
              set={(v) => {
                set({ ratelimits: f.ratelimits.map((x, j) => (j === i ? { ...x, limit: v } : x)) });
              }}
            />
            <div className="field">
              <label htmlFor={`${ids.list}-w${i}`}>Limit {i + 1}: per</label>
              <select
                id={`${ids.list}-w${i}`}
                value={r.windowSeconds}
                onChange={(e) => {
                  set({
                    ratelimits: f.ratelimits.map((x, j) =>
                      j === i ? { ...x, windowSeconds: e.target.value } : x,
                    ),
                  });
                }}
              >
                {WINDOW_CHOICES.map(([label, s]) => (
                  <option key={s} value={String(s)}>
                    {label}
                  </option>
                ))}
                {WINDOW_CHOICES.some(([, s]) => String(s) === r.windowSeconds) ? null : (
                  <option value={r.windowSeconds}>{r.windowSeconds} seconds</option>
                )}
              </select>
            </div>
            <button
              type="button"
              aria-label={`Remove limit ${i + 1}`}
              onClick={() => {
                set({ ratelimits: f.ratelimits.filter((_, j) => j !== i) });
              }}
            >
              Remove
            </button>
          </div>
        ))}
        <button
          type="button"
          onClick={() => {
            set({
              ratelimits: [
                ...f.ratelimits,
                { name: f.ratelimits.length === 0 ? 'default' : '', limit: '100', windowSeconds: '60' },
              ],
            });
          }}
        >
          Add rate limit
        </button>
        {f.ratelimits.length === 0 && envPolicy?.defaultRateLimit ? (
          <p className="hint">
            Without a limit, the policy's default applies: {envPolicy.defaultRateLimit.limit} per{' '}
            {envPolicy.defaultRateLimit.windowSeconds} s.
          </p>
        ) : null}
        <div className="field check">
          <input
            id={`${ids.list}-credits`}
            type="checkbox"
            checked={f.creditsOn}
            onChange={(e) => {
              set({ creditsOn: e.target.checked });
            }}
          />
          <label htmlFor={`${ids.list}-credits`}>Limit the total number of uses (credits)</label>
        </div>
        {f.creditsOn ? (
          <div className="row">
            <Text
              label="Credits remaining"
              type="number"
              value={f.creditsRemaining}
              set={(v) => {
                set({ creditsRemaining: v });
              }}
            />
            <div className="field">
              <label htmlFor={`${ids.list}-refill`}>Refill</label>
              <select
                id={`${ids.list}-refill`}
                value={f.refillInterval}
                onChange={(e) => {
                  set({ refillInterval: e.target.value as KeyFormState['refillInterval'] });
                }}
              >
                <option value="">never</option>
                <option value="daily">daily</option>
                <option value="monthly">monthly</option>
              </select>
            </div>
            {f.refillInterval !== '' ? (
              <Text
                label="Refill to"
                type="number"
                value={f.refillAmount}
                set={(v) => {
                  set({ refillAmount: v });
                }}
              />
            ) : null}
          </div>
        ) : null}
      </fieldset>

      <fieldset>
        <legend>Expiry and network</legend>
        <div className="row">
          <div className="field">
            <label htmlFor={ids.exp}>Expires</label>
            <select
              id={ids.exp}
              value={f.expiry}
              onChange={(e) => {
                set({ expiry: e.target.value as Expiry });
              }}
            >
              {props.mode === 'edit' ? <option value="keep">unchanged</option> : null}
              <option value="30">in 30 days</option>
              <option value="90">in 90 days</option>
              <option value="365">in 365 days</option>
              <option value="custom">on a date…</option>
              <option value="never">never</option>
            </select>
          </div>
          {f.expiry === 'custom' ? (
            <Text
              label="Expiry date (UTC)"
              type="date"
              value={f.customDate}
              set={(v) => {
                set({ customDate: v });
              }}
            />
          ) : null}
        </div>
        {envPolicy?.maxLifetimeDays != null ? (
          <p className="hint">
            The policy requires {f.environment} keys to expire within {envPolicy.maxLifetimeDays} days.
          </p>
        ) : null}
        <div className="field">
          <label htmlFor={ids.ips}>IP allowlist</label>
          <textarea
            id={ids.ips}
            rows={2}
            value={f.ipAllowlist}
            spellCheck={false}
            placeholder="203.0.113.0/24"
            aria-describedby={`${ids.ips}-hint`}
            onChange={(e) => {
              set({ ipAllowlist: e.target.value });
            }}
          />
          <p id={`${ids.ips}-hint`} className="hint">
            One address or CIDR range per line (IPv4 or IPv6). Empty: any address.
          </p>
        </div>
      </fieldset>
    </>
  );
}
