import { useId, type ReactNode } from 'react';
import type { Policy } from '../api.js';
import { Text } from './field.js';
import { WINDOW_CHOICES, type KeyFormState } from './key-form.js';

/** Rate limits (any number, each a count per window) and credits with an optional refill. */
export function LimitFields(props: {
  form: KeyFormState;
  set: (patch: Partial<KeyFormState>) => void;
  policy: Policy | null;
}): ReactNode {
  const { form: f, set } = props;
  const ids = { list: useId() };
  const envPolicy = props.policy?.environments[f.environment];
  return (
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
  );
}
