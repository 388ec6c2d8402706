import { useEffect, useState, type ReactNode } from 'react';
import { ENVIRONMENTS } from '../../../src/core/codes.js';
import { namingPatternProblem } from '../../../src/core/naming-pattern.js';
import { api, can, messageOf, type Policy, type Session } from '../api.js';
import { integer } from '../components/key-form.js';
import { ErrorNote, Loading } from '../components/ui.js';
import { useLoad } from '../hooks.js';

function NumberField(props: {
  id: string;
  label: string;
  value: string;
  set: (v: string) => void;
  disabled: boolean;
}): ReactNode {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="number"
        min={1}
        value={props.value}
        disabled={props.disabled}
        onChange={(e) => {
          props.set(e.target.value);
        }}
      />
    </div>
  );
}

/** The deployment policy: read by every admin, changed by `policy:write` holders. */
export function PolicyPage({ session }: { session: Session }): ReactNode {
  const loaded = useLoad(() => api<Policy>('GET', '/v1/policy'), []);
  const [draft, setDraft] = useState<Policy | null>(null);
  const [text, setText] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const editable = can(session, 'policy:write');

  useEffect(() => {
    const p = loaded.data;
    if (p === null) return;
    setDraft(p);
    const t: Record<string, string> = {
      denyList: p.naming.denyList.join(', '),
      rotationWarningDays: String(p.rotationWarningDays),
      staleAfterDays: String(p.staleAfterDays),
      sharedKeyThreshold: String(p.sharedKeyThreshold),
    };
    for (const e of ENVIRONMENTS) {
      const ep = p.environments[e];
      t[`${e}.max`] = ep.maxLifetimeDays === null ? '' : String(ep.maxLifetimeDays);
      t[`${e}.limit`] = ep.defaultRateLimit === null ? '' : String(ep.defaultRateLimit.limit);
      t[`${e}.window`] = ep.defaultRateLimit === null ? '60' : String(ep.defaultRateLimit.windowSeconds);
    }
    setText(t);
  }, [loaded.data]);

  if (draft === null)
    return loaded.loading ? <Loading what="the policy" /> : <ErrorNote error={loaded.error} />;
  const set = (k: string) => (v: string) => {
    setText((t) => ({ ...t, [k]: v }));
  };
  const build = (): Policy => {
    const environments = { ...draft.environments };
    for (const e of ENVIRONMENTS) {
      const max = text[`${e}.max`] ?? '';
      const limit = text[`${e}.limit`] ?? '';
      environments[e] = {
        ...draft.environments[e],
        maxLifetimeDays: max === '' ? null : integer(`${e}: maximum lifetime`, max, 1),
        defaultRateLimit:
          limit === ''
            ? null
            : {
                name: 'default',
                limit: integer(`${e}: default limit`, limit, 1),
                windowSeconds: integer(`${e}: window`, text[`${e}.window`] ?? '', 1),
              },
      };
    }
    // The server's own check (RE2, at most 256 characters): what passes here passes there.
    const refused = namingPatternProblem(draft.naming.pattern);
    if (refused !== null) throw new Error(`The naming pattern is refused: ${refused}.`);
    return {
      ...draft,
      naming: {
        ...draft.naming,
        denyList: (text.denyList ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      },
      environments,
      rotationWarningDays: integer('Rotation warning', text.rotationWarningDays ?? '', 1),
      staleAfterDays: integer('Stale after', text.staleAfterDays ?? '', 1),
      sharedKeyThreshold: integer('Shared-key threshold', text.sharedKeyThreshold ?? '', 1),
    };
  };
  const off = !editable;
  return (
    <section aria-labelledby="policy-title">
      <h1 id="policy-title">Policy</h1>
      {off ? (
        <p className="notice">Read only: changing the policy needs the admin permission policy:write.</p>
      ) : null}
      <form
        className="card"
        onSubmit={(e) => {
          e.preventDefault();
          let body: Policy;
          try {
            body = build();
          } catch (err) {
            setError(messageOf(err));
            return;
          }
          api<Policy>('PUT', '/v1/policy', body).then(
            (p) => {
              setError(null);
              setSaved(
                'Policy saved. Existing keys are unchanged; the governance report lists those that no longer comply.',
              );
              setDraft(p);
            },
            (err: unknown) => {
              setSaved(null);
              setError(messageOf(err));
            },
          );
        }}
      >
        <fieldset disabled={off}>
          <legend>Naming</legend>
          <div className="field">
            <label htmlFor="pol-pattern">Name pattern (regular expression)</label>
            <input
              id="pol-pattern"
              className="mono"
              value={draft.naming.pattern}
              onChange={(e) => {
                setDraft({ ...draft, naming: { ...draft.naming, pattern: e.target.value } });
              }}
            />
          </div>
          <div className="field">
            <label htmlFor="pol-deny">Generic names refused (comma-separated)</label>
            <input
              id="pol-deny"
              value={text.denyList ?? ''}
              onChange={(e) => {
                set('denyList')(e.target.value);
              }}
            />
          </div>
          <div className="field check">
            <input
              id="pol-envseg"
              type="checkbox"
              checked={draft.naming.requireEnvironmentSegment}
              onChange={(e) => {
                setDraft({
                  ...draft,
                  naming: { ...draft.naming, requireEnvironmentSegment: e.target.checked },
                });
              }}
            />
            <label htmlFor="pol-envseg">The name must carry the key's environment (prod, stg, dev)</label>
          </div>
          <div className="field check">
            <input
              id="pol-owner"
              type="checkbox"
              checked={draft.requireOwner}
              onChange={(e) => {
                setDraft({ ...draft, requireOwner: e.target.checked });
              }}
            />
            <label htmlFor="pol-owner">Every key needs an owner team and contact</label>
          </div>
        </fieldset>
        {ENVIRONMENTS.map((env) => (
          <fieldset key={env} disabled={off}>
            <legend>{env}</legend>
            <div className="row">
              <NumberField
                id={`pol-${env}-max`}
                label="Maximum lifetime in days (empty: none)"
                value={text[`${env}.max`] ?? ''}
                set={set(`${env}.max`)}
                disabled={off}
              />
              <NumberField
                id={`pol-${env}-limit`}
                label="Default rate limit (empty: none)"
                value={text[`${env}.limit`] ?? ''}
                set={set(`${env}.limit`)}
                disabled={off}
              />
              <NumberField
                id={`pol-${env}-window`}
                label="Window of that limit (seconds)"
                value={text[`${env}.window`] ?? ''}
                set={set(`${env}.window`)}
                disabled={off}
              />
            </div>
            <div className="field check">
              <input
                id={`pol-${env}-wild`}
                type="checkbox"
                checked={draft.environments[env].allowWildcards}
                onChange={(e) => {
                  setDraft({
                    ...draft,
                    environments: {
                      ...draft.environments,
                      [env]: { ...draft.environments[env], allowWildcards: e.target.checked },
                    },
                  });
                }}
              />
              <label htmlFor={`pol-${env}-wild`}>Allow wildcard permissions</label>
            </div>
          </fieldset>
        ))}
        <fieldset disabled={off}>
          <legend>Hygiene report</legend>
          <div className="row">
            <NumberField
              id="pol-rot"
              label="Rotation warning (days before expiry)"
              value={text.rotationWarningDays ?? ''}
              set={set('rotationWarningDays')}
              disabled={off}
            />
            <NumberField
              id="pol-stale"
              label="Stale after (days unused)"
              value={text.staleAfterDays ?? ''}
              set={set('staleAfterDays')}
              disabled={off}
            />
            <NumberField
              id="pol-shared"
              label="Shared when more clients a day than"
              value={text.sharedKeyThreshold ?? ''}
              set={set('sharedKeyThreshold')}
              disabled={off}
            />
          </div>
        </fieldset>
        <ErrorNote error={error} />
        <p role="status">{saved}</p>
        {editable ? (
          <div className="actions">
            <button type="submit" className="primary">
              Save policy
            </button>
          </div>
        ) : null}
      </form>
    </section>
  );
}
