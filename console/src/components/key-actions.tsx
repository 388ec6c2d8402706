import { useState, type ReactNode } from 'react';
import { api, type KeyRecord, type WithSecret } from '../api.js';
import { KeyImpact } from './impact.js';
import { Dialog, ErrorNote, SecretDialog, toast, useSubmit, When } from './ui.js';

type Done = (changed: boolean) => void;

function Buttons(props: {
  busy: boolean;
  label: string;
  danger?: boolean;
  disabled?: boolean;
  onCancel: () => void;
}): ReactNode {
  return (
    <div className="actions">
      <button type="button" onClick={props.onCancel}>
        Cancel
      </button>
      <button
        type="submit"
        className={props.danger === true ? 'danger' : 'primary'}
        disabled={props.busy || props.disabled === true}
      >
        {props.label}
      </button>
    </div>
  );
}

/**
 * Disable (with a reason, effective before the call returns; the confirmation states the key's
 * live traffic) or enable a key. Either way a toast offers Undo. Enabling asks no reason: the
 * API keeps none for it.
 */
export function ToggleDialog({ record, onClose }: { record: KeyRecord; onClose: Done }): ReactNode {
  const disabling = record.status !== 'disabled';
  const [reason, setReason] = useState('');
  const s = useSubmit();
  const verb = disabling ? 'Disable' : 'Enable';
  const call = (on: boolean, body: object): Promise<KeyRecord> =>
    api<KeyRecord>('POST', `/v1/keys/${record.id}/${on ? 'enable' : 'disable'}`, body);
  return (
    <Dialog
      title={`${verb} ${record.name}`}
      onClose={() => {
        onClose(false);
      }}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const body = disabling && reason.trim() !== '' ? { reason: reason.trim() } : {};
          s.run(
            () => call(!disabling, body),
            () => {
              toast(`${record.name} ${disabling ? 'disabled' : 'enabled'}.`, async () => {
                await call(disabling, {});
                onClose(true);
              });
              onClose(true);
            },
          );
        }}
      >
        <p>
          {disabling
            ? 'Every verification of this key is refused (DISABLED) from the moment you confirm, on every node within a second. You can enable it again.'
            : 'The key verifies again at once, with its configuration unchanged.'}
        </p>
        {disabling ? <KeyImpact keyId={record.id} environment={record.environment} /> : null}
        {disabling ? (
          <>
            <label htmlFor="toggle-reason">Reason (kept in the audit log)</label>
            <input
              id="toggle-reason"
              value={reason}
              maxLength={500}
              onChange={(e) => {
                setReason(e.target.value);
              }}
            />
          </>
        ) : null}
        <ErrorNote error={s.error} />
        <Buttons
          busy={s.busy}
          label={`${verb} key`}
          danger={disabling}
          onCancel={() => {
            onClose(false);
          }}
        />
      </form>
    </Dialog>
  );
}

/** New secret, same id and configuration; the old one dies now or after a grace period. */
export function RegenerateDialog({ record, onClose }: { record: KeyRecord; onClose: Done }): ReactNode {
  // A production key's callers need time to pick up the new secret: a day unless chosen otherwise.
  const [grace, setGrace] = useState(record.environment === 'production' ? '86400' : '0');
  const [result, setResult] = useState<WithSecret<KeyRecord> | null>(null);
  const s = useSubmit();
  if (result !== null) {
    return (
      <SecretDialog
        title={`New secret for ${record.name}`}
        secret={result.key}
        onClose={() => {
          setResult(null);
          onClose(true);
        }}
      />
    );
  }
  return (
    <Dialog
      title={`Regenerate ${record.name}`}
      onClose={() => {
        onClose(false);
      }}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const seconds = Number(grace);
          s.run(
            () =>
              api<WithSecret<KeyRecord>>('POST', `/v1/keys/${record.id}/regenerate`, {
                gracePeriodSeconds: seconds,
              }),
            setResult,
          );
        }}
      >
        <p>The key gets a new secret; its id, name, permissions and limits stay the same.</p>
        <label htmlFor="grace">The old secret keeps working for</label>
        <select
          id="grace"
          value={grace}
          onChange={(e) => {
            setGrace(e.target.value);
          }}
        >
          <option value="0">no time: it stops now</option>
          <option value="300">5 minutes</option>
          <option value="3600">1 hour</option>
          <option value="86400">1 day</option>
          <option value="604800">7 days</option>
        </select>
        {grace === '0' ? (
          <p className="warning" role="status">
            With no grace period every caller still using the current secret is refused (EXPIRED) at once.
          </p>
        ) : null}
        <ErrorNote error={s.error} />
        <Buttons
          busy={s.busy}
          label="Regenerate"
          onCancel={() => {
            onClose(false);
          }}
        />
      </form>
    </Dialog>
  );
}

/** Reclaim: the key is invalid for good; the name must be typed to confirm. */
export function DeleteDialog({ record, onClose }: { record: KeyRecord; onClose: Done }): ReactNode {
  const [typed, setTyped] = useState('');
  const s = useSubmit();
  return (
    <Dialog
      title={`Delete ${record.name}`}
      onClose={() => {
        onClose(false);
      }}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          s.run(
            () => api<KeyRecord>('DELETE', `/v1/keys/${record.id}`),
            () => {
              onClose(true);
            },
          );
        }}
      >
        <p>
          Deleting is permanent: the key never verifies again (DELETED). Its record, usage and audit trail are
          kept.
        </p>
        <label htmlFor="confirm-name">
          Type <strong>{record.name}</strong> to confirm
        </label>
        <input
          id="confirm-name"
          value={typed}
          autoComplete="off"
          spellCheck={false}
          onChange={(e) => {
            setTyped(e.target.value);
          }}
        />
        <ErrorNote error={s.error} />
        <Buttons
          busy={s.busy}
          label="Delete key"
          danger
          disabled={typed !== record.name}
          onCancel={() => {
            onClose(false);
          }}
        />
      </form>
    </Dialog>
  );
}

/** Ends a rotation grace window now: callers still on the previous secret are refused at once. */
export function EndGraceDialog({
  record,
  until,
  onClose,
}: {
  record: KeyRecord;
  until: string;
  onClose: Done;
}): ReactNode {
  const s = useSubmit();
  return (
    <Dialog
      title={`End the grace period of ${record.name}`}
      onClose={() => {
        onClose(false);
      }}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          s.run(
            () => api<KeyRecord>('POST', `/v1/keys/${record.id}/end-grace`),
            () => {
              toast(`${record.name}: the previous secret no longer works.`);
              onClose(true);
            },
          );
        }}
      >
        <p>
          The previous secret would keep working until <When at={until} absolute />. Ending the grace period
          now refuses every caller still using it (EXPIRED) at once, on every node. This cannot be undone.
        </p>
        <ErrorNote error={s.error} />
        <Buttons
          busy={s.busy}
          label="End it now"
          danger
          onCancel={() => {
            onClose(false);
          }}
        />
      </form>
    </Dialog>
  );
}
