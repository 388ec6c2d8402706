import { useEffect, useState, type ReactNode } from 'react';
import { ENVIRONMENTS } from '../../../src/core/codes.js';
import { namingPatternProblem } from '../../../src/core/naming-pattern.js';
import { api, can, messageOf, type Policy, type PolicyPreview, type Session } from '../api.js';
import { integer } from '../components/key-form.js';
import { ConfirmDialog, EnvBadge, ErrorNote, Loading, toast } from '../components/ui.js';
import { plural } from '../format.js';
import { useLoad } from '../hooks.js';

/** What saving would do to existing keys, by rule, before anything is saved. */
function PreviewList({ preview }: { preview: PolicyPreview }): ReactNode {
  return (
    <div className="preview">
      <p>
        <strong>{plural(preview.affected, 'existing key')}</strong> of {preview.checked} would stop complying.
        They keep working: the governance report lists them, and their next change must comply.
      </p>
      {preview.rules.map((r) => (
        <section key={r.rule} aria-label={`Rule ${r.rule}`}>
          <h3>
            <code>{r.rule}</code> ({plural(r.keys.length, 'key')})
          </h3>
          <ul className="plain">
            {r.keys.map((k) => (
              <li key={k.keyId}>
                <a href={`#/keys/${k.keyId}`} title={k.keyId}>
                  {k.name}
                </a>{' '}
                <EnvBadge env={k.environment} /> <span className="muted">{k.detail}</span>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
}

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
  const [pending, setPending] = useState<{ body: Policy; preview: PolicyPreview } | null>(null);
  const [checking, setChecking] = useState(false);
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
    return loaded.loading ? (
      <Loading what="the policy" />
    ) : (
      <ErrorNote error={loaded.error} onRetry={loaded.reload} />
    );
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
  const save = async (body: Policy, effect: string): Promise<void> => {
    try {
      const p = await api<Policy>('PUT', '/v1/policy', body);
      setError(null);
      setDraft(p);
      toast(`Policy saved. ${effect}`);
    } catch (err) {
      setError(messageOf(err));
      throw err;
    }
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
          // First the preview: which existing keys would stop complying. None: save at once.
          setChecking(true);
          setError(null);
          api<PolicyPreview>('POST', '/v1/policy/preview', body).then(
            (preview) => {
              setChecking(false);
              if (preview.affected > 0) setPending({ body, preview });
              else void save(body, 'No existing key stops complying.');
            },
            (err: unknown) => {
              setChecking(false);
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
        {editable ? (
          <div className="actions">
            <button type="submit" className="primary" disabled={checking}>
              Save policy
            </button>
          </div>
        ) : null}
      </form>
      {pending !== null ? (
        <ConfirmDialog
          title="Save the policy?"
          confirmLabel="Save policy anyway"
          onConfirm={() =>
            save(
              pending.body,
              `${plural(pending.preview.affected, 'existing key')} no longer ${pending.preview.affected === 1 ? 'complies' : 'comply'}: see Governance.`,
            ).catch(() => undefined)
          }
          onClose={() => {
            setPending(null);
          }}
        >
          <PreviewList preview={pending.preview} />
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
