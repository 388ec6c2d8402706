import { useId, type ReactNode } from 'react';
import { ENVIRONMENTS } from '../../../src/core/codes.js';
import { DEFAULT_POLICY, violations } from '../../../src/core/policy.js';
import type { Policy } from '../api.js';
import { Text } from './field.js';
import { IdentityPicker } from './identity-picker.js';
import { type Expiry, type KeyFormState } from './key-form.js';
import { LimitFields } from './limit-fields.js';
import { PermissionFields } from './permission-fields.js';
import { RolePicker } from '../pages/role-picker.js';

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
    .map((v) => humanNaming(v.detail, policy));
}

/** The default naming pattern in words, instead of its regular expression. */
const DEFAULT_PATTERN_WORDS =
  'lowercase letters and digits, at least three parts joined by hyphens (system-environment-purpose, e.g. crm-prod-agent-call)';

function humanNaming(detail: string, policy: Policy): string {
  const pattern = policy.naming.pattern;
  const suffix = ` does not match the naming pattern ${pattern}`;
  if (!detail.endsWith(suffix)) return detail;
  const head = detail.slice(0, -suffix.length);
  return pattern === DEFAULT_POLICY.naming.pattern
    ? `${head} does not follow the naming rule: ${DEFAULT_PATTERN_WORDS}`
    : `${head} does not follow the deployment's naming rule (the pattern ${pattern})`;
}

/**
 * Every problem the form has, all at once (the name, the owner, the expiry), in the policy's
 * words, so nothing is found one submit at a time. Empty when the form may be sent.
 */
export function formProblems(f: KeyFormState, policy: Policy | null): string[] {
  const out = f.name.trim() === '' ? ['The key needs a name.'] : nameProblems(f, policy);
  if (policy === null) return out;
  if (policy.requireOwner && (f.team.trim() === '' || f.contact.trim() === ''))
    out.push('The policy requires an owner team and contact.');
  const max = policy.environments[f.environment].maxLifetimeDays;
  if (max !== null) {
    if (f.expiry === 'never')
      out.push(`"Expires: never" is not allowed: ${f.environment} keys must expire within ${max} days.`);
    if (f.expiry !== 'never' && f.expiry !== 'keep' && f.expiry !== 'custom' && Number(f.expiry) > max)
      out.push(`${f.environment} keys must expire within ${max} days, not ${f.expiry}.`);
    if (f.expiry === 'custom' && f.customDate !== '') {
      const days = (Date.parse(`${f.customDate}T00:00:00Z`) - Date.now()) / 86_400_000;
      if (days > max) out.push(`${f.environment} keys must expire within ${max} days of today.`);
    }
  }
  if (f.expiry === 'custom' && f.customDate === '') out.push('Choose the expiry date.');
  return out;
}

/** System and purpose read from a name such as crm-prod-agent-call: "crm" and "agent-call". */
export function partsOfName(name: string): { system: string; purpose: string } {
  const parts = name
    .trim()
    .split('-')
    .filter((p) => p !== '');
  const env = parts.findIndex((p, i) => i > 0 && ENV_TOKENS.has(p));
  return {
    system: parts[0] ?? '',
    purpose: (env > 0 ? parts.slice(env + 1) : parts.slice(1)).join('-'),
  };
}

const ENV_TOKENS = new Set(['prod', 'production', 'stg', 'staging', 'dev', 'development', 'test', 'qa']);

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
  /** A team-scoped admin's team: the owner team is that one, not a choice. */
  lockedTeam?: string | null;
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
                // System and purpose follow the name until someone types their own.
                const was = partsOfName(f.name);
                const now = partsOfName(e.target.value);
                set({
                  name: e.target.value,
                  ...(props.mode === 'create' && f.system === was.system ? { system: now.system } : {}),
                  ...(props.mode === 'create' && f.purpose === was.purpose ? { purpose: now.purpose } : {}),
                });
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
            value={props.lockedTeam ?? f.team}
            readOnly={props.lockedTeam != null}
            {...(props.lockedTeam != null
              ? { hint: `your admin key manages team ${props.lockedTeam} only` }
              : {})}
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
          <IdentityPicker
            value={f.identityId}
            team={f.team}
            set={(v) => {
              set({ identityId: v });
            }}
          />
        </div>
      </fieldset>

      <PermissionFields form={f} set={set} policy={policy} suggestions={props.suggestions} />
      <RolePicker
        roles={f.roles}
        set={(roles) => {
          set({ roles });
        }}
      />

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
        {envPolicy?.maxLifetimeDays != null && f.expiry === 'never' ? (
          <p className="field-error" role="alert">
            &quot;Expires: never&quot; is not allowed: {f.environment} keys must expire within{' '}
            {envPolicy.maxLifetimeDays} days.
          </p>
        ) : envPolicy?.maxLifetimeDays != null ? (
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
