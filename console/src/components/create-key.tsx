import { useEffect, useState, type ReactNode } from 'react';
import { api, messageOf, type KeyRecord, type Page, type Policy, type WithSecret } from '../api.js';
import { bodyOf, emptyForm, formOf, patchOf, type KeyFormState } from './key-form.js';
import { KeyFields, nameProblems } from './key-fields.js';
import { Dialog, ErrorNote, OneTimeKey } from './ui.js';

/** The policy (for live checks) and the permissions already granted to recent keys (for suggestions). */
function useFormContext(): { policy: Policy | null; suggestions: string[]; note: string | null } {
  const [policy, setPolicy] = useState<Policy | null>(null);
  const [suggestions, setSuggestions] = useState<string[]>([]);
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => {
    api<Policy>('GET', '/v1/policy').then(setPolicy, (e: unknown) => {
      setNote(`The policy could not be read, so names are checked only when you submit: ${messageOf(e)}`);
    });
    api<Page<KeyRecord>>('GET', '/v1/keys?limit=500').then(
      (page) => {
        const seen = new Set<string>();
        for (const k of page.items) for (const p of k.permissions) seen.add(p);
        setSuggestions([...seen].sort());
      },
      () => {
        setSuggestions([]);
      },
    );
  }, []);
  return { policy, suggestions, note };
}

/**
 * Create a key. On success the dialog shows the plaintext key once; closing forgets it (the
 * state that held it goes with the dialog).
 */
export function CreateKeyDialog({ onClose }: { onClose: (created: boolean) => void }): ReactNode {
  const [form, setForm] = useState<KeyFormState>(emptyForm);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<WithSecret<KeyRecord> | null>(null);
  const { policy, suggestions, note } = useFormContext();

  if (created !== null) {
    return (
      <Dialog
        key="created"
        title={`Key created: ${created.record.name}`}
        onClose={() => {
          setCreated(null);
          onClose(true);
        }}
      >
        <OneTimeKey secret={created.key} />
        <p>
          <a href={`#/keys/${created.record.id}`}>Open the key's page</a>
        </p>
        <div className="actions">
          <button
            type="button"
            className="primary"
            onClick={() => {
              setCreated(null);
              onClose(true);
            }}
          >
            Done, I stored the key
          </button>
        </div>
      </Dialog>
    );
  }

  return (
    <Dialog
      title="Create an API key"
      wide
      onClose={() => {
        onClose(false);
      }}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (nameProblems(form, policy).length > 0) {
            setError('Fix the name first: it breaks the naming policy.');
            return;
          }
          let body: Record<string, unknown>;
          try {
            body = { environment: form.environment, ...bodyOf(form) };
          } catch (err) {
            setError(messageOf(err));
            return;
          }
          setBusy(true);
          setError(null);
          api<WithSecret<KeyRecord>>('POST', '/v1/keys', body).then(
            (r) => {
              setBusy(false);
              setCreated(r);
            },
            (err: unknown) => {
              setBusy(false);
              setError(messageOf(err));
            },
          );
        }}
      >
        {note !== null ? <p className="notice">{note}</p> : null}
        <KeyFields
          form={form}
          set={(p) => {
            setForm((f) => ({ ...f, ...p }));
          }}
          policy={policy}
          suggestions={suggestions}
          mode="create"
        />
        <ErrorNote error={error} />
        <div className="actions">
          <button
            type="button"
            onClick={() => {
              onClose(false);
            }}
          >
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create key'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** Edit a key's configuration: only what changed is sent, so policy checks only that. */
export function EditKeyDialog(props: { record: KeyRecord; onClose: (changed: boolean) => void }): ReactNode {
  const [form, setForm] = useState<KeyFormState>(() => formOf(props.record));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const { policy, suggestions, note } = useFormContext();
  return (
    <Dialog
      title={`Edit ${props.record.name}`}
      wide
      onClose={() => {
        props.onClose(false);
      }}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          let patch: Record<string, unknown>;
          try {
            patch = patchOf(form, props.record);
          } catch (err) {
            setError(messageOf(err));
            return;
          }
          if (Object.keys(patch).length === 0) {
            setError('Nothing changed.');
            return;
          }
          setBusy(true);
          api<KeyRecord>('PATCH', `/v1/keys/${props.record.id}`, patch).then(
            () => {
              props.onClose(true);
            },
            (err: unknown) => {
              setBusy(false);
              setError(messageOf(err));
            },
          );
        }}
      >
        {note !== null ? <p className="notice">{note}</p> : null}
        <KeyFields
          form={form}
          set={(p) => {
            setForm((f) => ({ ...f, ...p }));
          }}
          policy={policy}
          suggestions={suggestions}
          mode="edit"
        />
        <ErrorNote error={error} />
        <div className="actions">
          <button
            type="button"
            onClick={() => {
              props.onClose(false);
            }}
          >
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Saving…' : 'Save changes'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
