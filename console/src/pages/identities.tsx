import { useState, type ReactNode } from 'react';
import { api, can, query, type KeyRecord, type Page, type Session } from '../api.js';
import { Text } from '../components/field.js';
import {
  ConfirmDialog,
  Empty,
  ErrorNote,
  Loading,
  Pager,
  toast,
  usePager,
  useSubmit,
  When,
} from '../components/ui.js';
import { UsageChart } from '../components/usage-chart.js';
import { plural, rateLimitText } from '../format.js';
import { navigate, useDebounced, useLoad } from '../hooks.js';

/**
 * Identities (docs/identities.md): a customer's limits and credits shared by its keys. The list
 * with a create form, and one identity's page with its usage per day, its keys and its settings.
 */

export interface Identity {
  id: string;
  externalId: string;
  name: string | null;
  owner: { team: string | null; contact: string | null };
  ratelimits: { name: string; limit: number; windowSeconds: number }[];
  credits: { remaining: number; refill: { amount: number; interval: 'daily' | 'monthly' } | null } | null;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  version: number;
}

interface IdentityUsage {
  identityId: string;
  keys: number;
  days: { day: string; counts: Record<string, number> }[];
  totals: Record<string, number>;
}

const limitsText = (i: Identity): string =>
  i.ratelimits.map((r) => `${r.name}: ${rateLimitText(r)}`).join(', ') || 'none';

/** `name:limit:windowSeconds` per line ↔ limits: the form's plain-text limits. */
function parseLimits(text: string): Identity['ratelimits'] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l, i) => {
      const [name, limit, window] = l.split(':').map((x) => x.trim());
      const n = Number(limit);
      const w = Number(window);
      if (!name || !Number.isInteger(n) || n < 1 || !Number.isInteger(w) || w < 1)
        throw new Error(`Rate limit line ${i + 1} must be name:limit:windowSeconds, e.g. per-minute:600:60.`);
      return { name, limit: n, windowSeconds: w };
    });
}

function creditsOf(text: string): { remaining: number } | null {
  if (text.trim() === '') return null;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0)
    throw new Error('Credits must be a whole number ≥ 0 (or empty for none).');
  return { remaining: n };
}

export function IdentitiesPage({ session, id }: { session: Session; id: string | undefined }): ReactNode {
  return id !== undefined && id !== '' ? (
    <IdentityDetail key={id} id={id} session={session} />
  ) : (
    <IdentityList session={session} />
  );
}

function IdentityList({ session }: { session: Session }): ReactNode {
  const [q, setQ] = useState('');
  const filters = { q: useDebounced(q.trim(), 250) };
  const pager = usePager(filters);
  const list = useLoad(
    () =>
      api<Page<Identity>>('GET', `/v1/identities${query({ ...filters, limit: 50, cursor: pager.cursor })}`),
    [JSON.stringify(filters), pager.cursor],
  );
  return (
    <section aria-labelledby="identities-title">
      <h1 id="identities-title">Identities</h1>
      <p className="hint">
        An identity is one customer: its rate limits and credits are shared by all of its keys.
      </p>
      <form
        className="filters"
        role="search"
        aria-label="Filter identities"
        onSubmit={(e) => {
          e.preventDefault();
        }}
      >
        <label>
          Search
          <input
            value={q}
            placeholder="external id or name"
            spellCheck={false}
            onChange={(e) => {
              setQ(e.target.value);
            }}
          />
        </label>
      </form>
      {can(session, 'keys:write') ? (
        <CreateIdentity team={session.adminKey.team} onCreated={list.reload} />
      ) : null}
      <ErrorNote error={list.error} />
      {list.data !== null ? (
        list.data.items.length === 0 ? (
          <Empty>No identities yet.</Empty>
        ) : (
          <table className="identities">
            <thead>
              <tr>
                <th scope="col">External id</th>
                <th scope="col">Name</th>
                <th scope="col">Team</th>
                <th scope="col">Shared limits</th>
                <th scope="col">Shared credits</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((i) => (
                <tr key={i.id}>
                  <td>
                    <a href={`#/identities/${i.id}`}>{i.externalId}</a>
                  </td>
                  <td>{i.name ?? <span className="muted">–</span>}</td>
                  <td>{i.owner.team ?? <span className="muted">none</span>}</td>
                  <td>{limitsText(i)}</td>
                  <td>
                    {i.credits === null ? <span className="muted">unlimited</span> : i.credits.remaining}
                  </td>
                  <td>
                    <When at={i.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : list.loading ? (
        <Loading what="identities" />
      ) : null}
      <Pager page={pager.page} nextCursor={list.data?.nextCursor} onNext={pager.next} onPrev={pager.prev} />
    </section>
  );
}

function CreateIdentity({ team, onCreated }: { team: string | null; onCreated: () => void }): ReactNode {
  const [f, setF] = useState({
    externalId: '',
    name: '',
    team: team ?? '',
    contact: '',
    limits: '',
    credits: '',
  });
  const s = useSubmit();
  const set = (p: Partial<typeof f>): void => {
    setF({ ...f, ...p });
  };
  return (
    <details className="create-identity">
      <summary>New identity</summary>
      <form
        aria-label="New identity"
        onSubmit={(e) => {
          e.preventDefault();
          let body: Record<string, unknown>;
          try {
            body = {
              externalId: f.externalId.trim(),
              name: f.name.trim() === '' ? null : f.name.trim(),
              owner: { team: f.team.trim() === '' ? null : f.team.trim(), contact: f.contact.trim() || null },
              ratelimits: parseLimits(f.limits),
              credits: creditsOf(f.credits),
            };
          } catch (err) {
            s.setError((err as Error).message);
            return;
          }
          s.run(
            () => api<Identity>('POST', '/v1/identities', body),
            (rec) => {
              toast(`Identity ${rec.externalId} created`);
              setF({ externalId: '', name: '', team: team ?? '', contact: '', limits: '', credits: '' });
              onCreated();
            },
          );
        }}
      >
        <div className="row">
          <Text
            label="External id"
            required
            value={f.externalId}
            set={(v) => {
              set({ externalId: v });
            }}
            hint="the customer's id in your systems (unique)"
          />
          <Text
            label="Name"
            value={f.name}
            set={(v) => {
              set({ name: v });
            }}
          />
          <Text
            label="Owner team"
            value={f.team}
            readOnly={team !== null}
            set={(v) => {
              set({ team: v });
            }}
          />
          <Text
            label="Owner contact"
            value={f.contact}
            set={(v) => {
              set({ contact: v });
            }}
          />
        </div>
        <LimitInputs limits={f.limits} credits={f.credits} set={set} />
        <ErrorNote error={s.error} />
        <div className="actions">
          <button type="submit" className="primary" disabled={s.busy}>
            Create identity
          </button>
        </div>
      </form>
    </details>
  );
}

function LimitInputs(props: {
  limits: string;
  credits: string;
  set: (p: { limits?: string; credits?: string }) => void;
}): ReactNode {
  return (
    <div className="row">
      <div className="field">
        <label htmlFor="identity-limits">Shared rate limits</label>
        <textarea
          id="identity-limits"
          rows={2}
          value={props.limits}
          placeholder="per-minute:600:60"
          aria-describedby="identity-limits-hint"
          onChange={(e) => {
            props.set({ limits: e.target.value });
          }}
        />
        <p id="identity-limits-hint" className="hint">
          one per line: name:limit:windowSeconds
        </p>
      </div>
      <Text
        label="Shared credits"
        value={props.credits}
        set={(v) => {
          props.set({ credits: v });
        }}
        hint="balance shared by its keys (empty: unlimited)"
      />
    </div>
  );
}

function IdentityDetail({ id, session }: { id: string; session: Session }): ReactNode {
  const [days, setDays] = useState(30);
  const rec = useLoad(() => api<Identity>('GET', `/v1/identities/${id}`), [id]);
  const usage = useLoad(
    () =>
      can(session, 'logs:read')
        ? api<IdentityUsage>('GET', `/v1/identities/${id}/usage${query({ days })}`)
        : Promise.resolve(null),
    [id, days],
  );
  const keys = useLoad(
    () => api<Page<KeyRecord>>('GET', `/v1/keys${query({ identityId: id, limit: 100 })}`),
    [id],
  );
  const [confirm, setConfirm] = useState(false);
  const i = rec.data;
  return (
    <section aria-labelledby="identity-title">
      <p>
        <a href="#/identities">← Identities</a>
      </p>
      <ErrorNote error={rec.error} />
      {i === null ? (
        rec.loading ? (
          <Loading what="the identity" />
        ) : null
      ) : (
        <>
          <h1 id="identity-title">{i.name ?? i.externalId}</h1>
          <dl className="facts">
            <dt>External id</dt>
            <dd>{i.externalId}</dd>
            <dt>Id</dt>
            <dd>
              <code>{i.id}</code>
            </dd>
            <dt>Owner</dt>
            <dd>
              {i.owner.team ?? 'no team'} {i.owner.contact !== null ? `<${i.owner.contact}>` : ''}
            </dd>
            <dt>Shared rate limits</dt>
            <dd>{limitsText(i)}</dd>
            <dt>Shared credits</dt>
            <dd>
              {i.credits === null
                ? 'unlimited'
                : `${i.credits.remaining}${i.credits.refill ? ` (refill ${i.credits.refill.amount} ${i.credits.refill.interval})` : ''}`}
            </dd>
            <dt>Created</dt>
            <dd>
              <When at={i.createdAt} full />
            </dd>
          </dl>
          {usage.data !== null ? (
            <section aria-labelledby="identity-usage">
              <h2 id="identity-usage">
                Usage of its {plural(usage.data.keys, 'key')} (last{' '}
                <select
                  aria-label="Days"
                  value={days}
                  onChange={(e) => {
                    setDays(Number(e.target.value));
                  }}
                >
                  {[7, 30, 90].map((d) => (
                    <option key={d} value={d}>
                      {d}
                    </option>
                  ))}
                </select>{' '}
                days)
              </h2>
              <UsageChart usage={usage.data} days={days} />
            </section>
          ) : (
            <ErrorNote error={usage.error} />
          )}
          <section aria-labelledby="identity-keys">
            <h2 id="identity-keys">Keys</h2>
            <ErrorNote error={keys.error} />
            {keys.data !== null && keys.data.items.length === 0 ? (
              <Empty>No key is linked yet: pick this identity in a key's form.</Empty>
            ) : (
              <ul>
                {keys.data?.items.map((k) => (
                  <li key={k.id}>
                    <a href={`#/keys/${k.id}`}>{k.name}</a> <span className="muted">{k.status}</span>
                  </li>
                ))}
              </ul>
            )}
          </section>
          {can(session, 'keys:write') ? (
            <>
              <EditIdentity identity={i} onSaved={rec.reload} />
              <button
                type="button"
                className="danger"
                onClick={() => {
                  setConfirm(true);
                }}
              >
                Delete identity
              </button>
            </>
          ) : null}
          {confirm ? (
            <ConfirmDialog
              title={`Delete ${i.externalId}?`}
              confirmLabel="Delete identity"
              danger
              typed={i.externalId}
              onConfirm={() => api('DELETE', `/v1/identities/${i.id}`)}
              onClose={(done) => {
                setConfirm(false);
                if (done) {
                  toast(`Identity ${i.externalId} deleted`);
                  navigate('/identities');
                }
              }}
            >
              <p>
                Its keys are unlinked and keep only their own limits; its shared limits and balance are gone.
              </p>
            </ConfirmDialog>
          ) : null}
        </>
      )}
    </section>
  );
}

function EditIdentity({ identity, onSaved }: { identity: Identity; onSaved: () => void }): ReactNode {
  const initial = {
    name: identity.name ?? '',
    limits: identity.ratelimits.map((r) => `${r.name}:${r.limit}:${r.windowSeconds}`).join('\n'),
    credits: identity.credits === null ? '' : String(identity.credits.remaining),
  };
  const [f, setF] = useState(initial);
  const s = useSubmit();
  return (
    <details className="edit-identity">
      <summary>Edit name, limits and credits</summary>
      <form
        aria-label="Edit identity"
        onSubmit={(e) => {
          e.preventDefault();
          const patch: Record<string, unknown> = {};
          try {
            if (f.name !== initial.name) patch.name = f.name.trim() === '' ? null : f.name.trim();
            if (f.limits !== initial.limits) patch.ratelimits = parseLimits(f.limits);
            if (f.credits !== initial.credits)
              patch.credits =
                creditsOf(f.credits) === null
                  ? null
                  : { ...creditsOf(f.credits), refill: identity.credits?.refill ?? null };
          } catch (err) {
            s.setError((err as Error).message);
            return;
          }
          if (Object.keys(patch).length === 0) {
            s.setError('Nothing changed.');
            return;
          }
          s.run(
            () => api<Identity>('PATCH', `/v1/identities/${identity.id}`, patch),
            () => {
              toast('Identity saved: its keys answer with the new limits at once');
              onSaved();
            },
          );
        }}
      >
        <Text
          label="Name"
          value={f.name}
          set={(v) => {
            setF({ ...f, name: v });
          }}
        />
        <LimitInputs
          limits={f.limits}
          credits={f.credits}
          set={(p) => {
            setF({ ...f, ...p });
          }}
        />
        <ErrorNote error={s.error} />
        <div className="actions">
          <button type="submit" className="primary" disabled={s.busy}>
            Save
          </button>
        </div>
      </form>
    </details>
  );
}
