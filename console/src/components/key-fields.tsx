import { useId, type ReactNode } from 'react';
import { ENVIRONMENTS } from '../../../src/core/codes.js';
import { violations } from '../../../src/core/policy.js';
import type { Policy } from '../api.js';
import { Text } from './field.js';
import { type Expiry, type KeyFormState } from './key-form.js';
import { LimitFields } from './limit-fields.js';
import { PermissionFields } from './permission-fields.js';

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
    exp: useId(),
    ips: useId(),
  };
  const problems = nameProblems(f, policy);
  const envPolicy = policy?.environments[f.environment];

  return (
    <>
      <fieldset>
        <legend>Identity</legend>
        <div className="two-col">
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
              {ENVIRONMENTS.map((e) => (
                <option key={e} value={e}>
                  {e}
                </option>
              ))}
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
        </div>
      </fieldset>

      <PermissionFields form={f} set={set} policy={policy} suggestions={props.suggestions} />

      <LimitFields form={f} set={set} policy={policy} />

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
