import { useId, useState, type ReactNode } from 'react';
import { api, type Finding } from '../api.js';
import { Text } from './field.js';
import { ConfirmDialog, EnvBadge, toast } from './ui.js';

interface Narrowing {
  permissions: string[];
  endsAt: string;
  autoApply: boolean;
}

/**
 * "Narrow safely" on an over-privileged finding (docs/narrowing.md): starts a shadow period for
 * the suggested set (editable) instead of applying it at once. Nothing changes for the key's
 * callers; the narrowing's page (`GET /v1/keys/{id}/narrowing`) counts what would be refused.
 */
export function NarrowSafely(props: {
  f: Finding;
  suggested: string[];
  onStarted: (note: string | undefined) => void;
}): ReactNode {
  const { f } = props;
  const [open, setOpen] = useState(false);
  const [permissions, setPermissions] = useState(props.suggested.join(', '));
  const [days, setDays] = useState('14');
  const [autoApply, setAutoApply] = useState(false);
  const autoId = useId();
  const start = async (): Promise<void> => {
    const list = permissions
      .split(/[\s,]+/)
      .map((p) => p.trim())
      .filter((p) => p !== '');
    const n = await api<Narrowing>('POST', `/v1/keys/${f.keyId}/narrowing`, {
      permissions: list,
      days: Number(days),
      autoApply,
    });
    const until = n.endsAt.slice(0, 10);
    props.onStarted(`Shadow period until ${until}`);
    toast(
      `${f.name}: trying ${list.join(', ') || 'no permissions'} in the shadow until ${until}.`,
      async () => {
        await api('DELETE', `/v1/keys/${f.keyId}/narrowing`);
        props.onStarted(undefined);
      },
    );
  };
  return (
    <>
      <button
        type="button"
        aria-label={`Narrow ${f.name} safely`}
        title="Try the suggested permissions in the shadow first"
        onClick={() => {
          setOpen(true);
        }}
      >
        Narrow safely
      </button>
      {open ? (
        <ConfirmDialog
          title={`Narrow ${f.name} safely?`}
          confirmLabel="Start shadow period"
          onConfirm={start}
          onClose={() => {
            setOpen(false);
          }}
        >
          <p>
            <strong>{f.name}</strong> (<EnvBadge env={f.environment} />) keeps its permissions
            {f.granted !== undefined ? (
              <>
                {' '}
                (<code>{f.granted.join(', ')}</code>)
              </>
            ) : null}
            . For the period, every verification is also decided against the narrower set below, and each call
            it would have refused is counted. Nothing is refused meanwhile.
          </p>
          <Text
            label="Narrower permissions"
            value={permissions}
            set={setPermissions}
            hint="comma-separated; a subset of the key's permissions"
          />
          <Text label="Days" type="number" value={days} set={setDays} hint="1–90" required />
          <div className="field">
            <label htmlFor={autoId}>
              <input
                id={autoId}
                type="checkbox"
                checked={autoApply}
                onChange={(e) => {
                  setAutoApply(e.target.checked);
                }}
              />{' '}
              Apply the narrower set when the period ends with nothing refused
            </label>
          </div>
        </ConfirmDialog>
      ) : null}
    </>
  );
}
