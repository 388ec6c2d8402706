import type { ReactNode } from 'react';
import { api, type Usage } from '../api.js';
import { plural } from '../format.js';
import { useLoad } from '../hooks.js';
import { When } from './ui.js';

/**
 * What refusing a key would break, in numbers, for a confirmation: its verifications since
 * yesterday (UTC) and from how many client IPs, and when it was last used. The usage API needs
 * `logs:read`; without it the confirmation says so instead of guessing.
 */
export function KeyImpact({ keyId, environment }: { keyId: string; environment: string }): ReactNode {
  const usage = useLoad(() => api<Usage>('GET', `/v1/keys/${keyId}/usage?days=2`), [keyId]);
  if (usage.loading) return <p className="muted">Reading how this key is used…</p>;
  const u = usage.data;
  if (u === null) return <p className="muted">How much this key is used is not known ({usage.error}).</p>;
  const valid = u.totals.VALID ?? 0;
  const all = Object.values(u.totals).reduce((a, b) => a + b, 0);
  const live = valid > 0;
  return (
    <p className={live ? 'warning impact-line' : 'impact-line'} data-testid="impact">
      {live && environment === 'production' ? 'A production key in use: ' : ''}
      {`Verified ${plural(valid, 'time')} successfully since yesterday (UTC)`}
      {all > valid ? ` (${plural(all - valid, 'refusal')})` : ''}
      {` from ${plural(u.ips.length, 'client IP')}; last used `}
      <When at={u.lastUsedAt} />.
    </p>
  );
}
