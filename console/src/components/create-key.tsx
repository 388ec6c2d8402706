import { useEffect, useState, type ReactNode } from 'react';
import { api, messageOf, type KeyRecord, type Page, type Policy, type WithSecret } from '../api.js';
import { bodyOf, emptyForm, formOf, patchOf, type KeyFormState } from './key-form.js';
import { formProblems, KeyFields } from './key-fields.js';
import { Dialog, ErrorNote, SecretDialog, useSubmit } from './ui.js';

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
      (e: unknown) => {
        setNote(`No permission suggestions: the keys could not be read (${messageOf(e)}).`);
      },
    );
  }, []);
  return { policy, suggestions, note };
}

/**
 * The key form in a dialog. `request` turns the form into the API call, or throws an Error whose
 * message is shown (a field the person must fix); the call's own failure is shown the same way.
 */
function KeyFormDialog<T>(props: {
  title: string;
  submitLabel: string;
  initial: KeyFormState;
  mode: 'create' | 'edit';
  request: (form: KeyFormState, policy: Policy | null) => () => Promise<T>;
  onDone: (result: T) => void;
  onCancel: () => void;
  lockedTeam?: string | null;
}): ReactNode {
  const [form, setForm] = useState<KeyFormState>(props.initial);
  const { policy, suggestions, note } = useFormContext();
  const s = useSubmit();
  return (
    <Dialog title={props.title} wide onClose={props.onCancel}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          let call: () => Promise<T>;
          try {
            call = props.request(form, policy);
          } catch (err) {
            s.setError(messageOf(err));
            return;
          }
          s.run(call, props.onDone);
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
          mode={props.mode}
          lockedTeam={props.lockedTeam ?? null}
        />
        <ErrorNote error={s.error} />
        <div className="actions">
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={s.busy}>
            {props.submitLabel}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/**
 * Create a key. On success the dialog shows the plaintext key once; closing forgets it (the
 * state that held it goes with the dialog).
 */
export function CreateKeyDialog({
  onClose,
  team = null,
}: {
  onClose: (created: boolean) => void;
  /** The signed-in admin key's team, when it is team-scoped: new keys belong to it. */
  team?: string | null;
}): ReactNode {
  const [created, setCreated] = useState<WithSecret<KeyRecord> | null>(null);
  if (created !== null) {
    return (
      <SecretDialog
        title={`Key created: ${created.record.name}`}
        secret={created.key}
        onClose={() => {
          setCreated(null);
          onClose(true);
        }}
      >
        <p>
          <a href={`#/keys/${created.record.id}`}>Open the key's page</a>
        </p>
      </SecretDialog>
    );
  }
  return (
    <KeyFormDialog
      title="Create an API key"
      submitLabel="Create key"
      initial={{ ...emptyForm(), team: team ?? '' }}
      mode="create"
      lockedTeam={team}
      request={(form, policy) => {
        const problems = formProblems(team === null ? form : { ...form, team }, policy);
        if (problems.length > 0) throw new Error(`Fix these first: ${problems.join(' ')}`);
        const body = { environment: form.environment, ...bodyOf(team === null ? form : { ...form, team }) };
        return () => api<WithSecret<KeyRecord>>('POST', '/v1/keys', body);
      }}
      onDone={setCreated}
      onCancel={() => {
        onClose(false);
      }}
    />
  );
}

/** Edit a key's configuration: only what changed is sent, so policy checks only that. */
export function EditKeyDialog(props: { record: KeyRecord; onClose: (changed: boolean) => void }): ReactNode {
  return (
    <KeyFormDialog
      title={`Edit ${props.record.name}`}
      submitLabel="Save changes"
      initial={formOf(props.record)}
      mode="edit"
      request={(form) => {
        const patch = patchOf(form, props.record);
        if (Object.keys(patch).length === 0) throw new Error('Nothing changed.');
        const was = props.record.credits;
        const onlyRefill =
          patch.credits !== undefined &&
          patch.credits !== null &&
          was !== null &&
          form.creditsRemaining === String(was.remaining);
        return async () => {
          if (onlyRefill) {
            // The API sets the balance with the refill, and the balance moves with every use:
            // send it as it is now, not as it was when the form opened.
            const now = await api<KeyRecord>('GET', `/v1/keys/${props.record.id}`);
            patch.credits = {
              ...(patch.credits as object),
              remaining: now.credits?.remaining ?? was.remaining,
            };
          }
          return api<KeyRecord>('PATCH', `/v1/keys/${props.record.id}`, patch);
        };
      }}
      onDone={() => {
        props.onClose(true);
      }}
      onCancel={() => {
        props.onClose(false);
      }}
    />
  );
}
