import { useState, type ReactNode } from 'react';
import { api, type MailDelivery, type Webhook, type WebhookDelivery } from '../api.js';
import { useKeyNames } from '../components/names.js';
import { Empty, ErrorNote, Loading, When } from '../components/ui.js';
import { plural } from '../format.js';
import { useLoad, useLoadMore, type LoadedMore } from '../hooks.js';

/**
 * The words for a delivery's error category (the server keeps categories, never the SMTP or HTTP
 * text): owner mail's (docs/notifications.md) and webhooks' (services/webhooks/transport.ts).
 */
const ERRORS: Record<string, string> = {
  connection_failed: 'could not connect',
  auth_failed: 'the SMTP server refused the credentials',
  timeout: 'no answer in time',
  temporarily_rejected: 'refused for now (4xx)',
  rejected: 'refused for good (5xx: recipient or message not accepted)',
  error: 'another error',
  http_error: 'the receiver answered with an error',
  redirect_not_followed: 'the receiver redirected (not followed)',
  connection_refused: 'connection refused',
  connection_reset: 'connection reset',
  unreachable: 'receiver unreachable',
  dns_failure: 'its name did not resolve',
  tls_error: 'TLS failed',
  refused_target: 'the address is not allowed as a target',
  network_error: 'a network error',
  internal_error: 'Keywarden could not prepare the request',
};

type Tone = 'ok' | 'wait' | 'failed';

/**
 * A delivery's status in words and a badge whose text carries it (a colour alone says nothing to a
 * screen reader or a colour-blind eye): a failure reads "Failed", a retry "Retrying".
 */
function DeliveryStatus({ tone, label }: { tone: Tone; label: string }): ReactNode {
  return (
    <span className={`badge delivery-${tone}`}>
      {tone === 'failed' ? '✕ ' : tone === 'ok' ? '✓ ' : ''}
      {label}
    </span>
  );
}

function statusOf(status: string, attempts: number): { tone: Tone; label: string } {
  if (status === 'sent' || status === 'succeeded') return { tone: 'ok', label: 'Delivered' };
  if (status === 'failed') return { tone: 'failed', label: 'Failed: given up' };
  return { tone: 'wait', label: attempts === 0 ? 'Queued' : 'Retrying' };
}

function LastError({ error, code }: { error: string | null; code?: number | null }): ReactNode {
  if (error === null && (code === null || code === undefined)) return <span className="muted">—</span>;
  return (
    <>
      {code !== null && code !== undefined ? <span className="mono">HTTP {code} </span> : null}
      {error !== null ? (
        <>
          <code>{error}</code>
          {ERRORS[error] !== undefined ? <span className="muted">: {ERRORS[error]}</span> : null}
        </>
      ) : null}
    </>
  );
}

function More<T>({ list, what }: { list: LoadedMore<T>; what: string }): ReactNode {
  if (!list.hasMore && !list.loading) return null;
  return (
    <p className="load-more">
      {list.hasMore ? (
        <button type="button" disabled={list.loading} onClick={list.loadMore}>
          {list.loading ? 'Loading…' : `Load more ${what}`}
        </button>
      ) : null}
    </p>
  );
}

/** The owner mail delivery log (docs/notifications.md). */
function MailLog(): ReactNode {
  const list = useLoadMore<MailDelivery>('/v1/notifications/deliveries');
  const names = useKeyNames((list.items ?? []).flatMap((m) => (m.keyId === null ? [] : [m.keyId])));
  const failed = (list.items ?? []).filter((m) => m.status === 'failed').length;
  return (
    <section aria-labelledby="mail-title">
      <h2 id="mail-title">Owner mail</h2>
      <p className="muted">
        Mail to the person named in a key&apos;s <code>owner.contact</code> (expiring, leaked, disabled,
        credits low, a narrowing refused, the daily digest). A failed attempt is retried with backoff; after 8
        attempts the message is given up.
      </p>
      <ErrorNote error={list.error} onRetry={list.reload} />
      {failed > 0 ? (
        <p className="error" role="status">
          {plural(failed, 'message')} shown here could not be delivered and {failed === 1 ? 'was' : 'were'}{' '}
          given up.
        </p>
      ) : null}
      {list.items === null ? (
        list.loading ? (
          <Loading what="owner mail" />
        ) : null
      ) : list.items.length === 0 ? (
        <Empty>
          No owner mail has been queued. Either mail is off (it is sent only when the server has both{' '}
          <code>KEYWARDEN_SMTP_URL</code> and <code>KEYWARDEN_MAIL_FROM</code> set, see{' '}
          <code>docs/notifications.md</code>), or nothing has happened yet that mails an owner: only keys
          whose <code>owner.contact</code> is an email address get mail.
        </Empty>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Owner mail table">
          <table>
            <caption className="sr-only">Owner mail deliveries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Queued</th>
                <th scope="col">Status</th>
                <th scope="col">Occasion</th>
                <th scope="col">Recipient</th>
                <th scope="col">Key</th>
                <th scope="col">Subject</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last error</th>
                <th scope="col">Next attempt</th>
                <th scope="col">Delivered</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((m) => {
                const s = statusOf(m.status, m.attempts);
                return (
                  <tr key={m.id} className={s.tone === 'failed' ? 'row-failed' : undefined}>
                    <td>
                      <When at={m.createdAt} absolute />
                    </td>
                    <td>
                      <DeliveryStatus {...s} />
                    </td>
                    <td className="mono">{m.occasion}</td>
                    <td>{m.recipient}</td>
                    <td>
                      {m.keyId === null ? (
                        <span className="muted">—</span>
                      ) : (
                        <a href={`#/keys/${m.keyId}`} title={m.keyId}>
                          {names.get(m.keyId) ?? m.keyId}
                        </a>
                      )}
                    </td>
                    <td>{m.subject}</td>
                    <td>{m.attempts}</td>
                    <td>
                      <LastError error={m.lastError} />
                    </td>
                    <td>
                      <When at={m.nextAttemptAt} never="—" absolute />
                    </td>
                    <td>
                      <When at={m.deliveredAt} never="not delivered" absolute />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <More list={list} what="mail" />
    </section>
  );
}

function WebhookLog({ hook }: { hook: Webhook }): ReactNode {
  const list = useLoadMore<WebhookDelivery>(`/v1/webhooks/${encodeURIComponent(hook.id)}/deliveries`);
  return (
    <>
      <ErrorNote error={list.error} onRetry={list.reload} />
      {list.items === null ? (
        list.loading ? (
          <Loading what="webhook deliveries" />
        ) : null
      ) : list.items.length === 0 ? (
        <Empty>
          Nothing sent to this webhook yet: it receives {hook.events.join(', ')} as they happen
          {hook.team === null ? '' : ` to keys of team ${hook.team}`}.
        </Empty>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Webhook deliveries table">
          <table>
            <caption className="sr-only">Deliveries to {hook.url}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Queued</th>
                <th scope="col">Status</th>
                <th scope="col">Event</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last answer</th>
                <th scope="col">Next attempt</th>
                <th scope="col">Delivered</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((d) => {
                const s = statusOf(d.status, d.attempts);
                return (
                  <tr key={d.id} className={s.tone === 'failed' ? 'row-failed' : undefined}>
                    <td>
                      <When at={d.createdAt} absolute />
                    </td>
                    <td>
                      <DeliveryStatus {...s} />
                    </td>
                    <td className="mono">{d.event}</td>
                    <td>{d.attempts}</td>
                    <td>
                      <LastError error={d.lastError} code={d.lastStatusCode} />
                    </td>
                    <td>
                      <When at={d.nextAttemptAt} never="—" absolute />
                    </td>
                    <td>
                      <When at={d.deliveredAt} never="not delivered" absolute />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <More list={list} what="deliveries" />
    </>
  );
}

/** The webhooks this admin may see, one picked, and its delivery log. */
function Webhooks(): ReactNode {
  const hooks = useLoad(() => api<{ items: Webhook[] }>('GET', '/v1/webhooks'), []);
  const [picked, setPicked] = useState('');
  const items = hooks.data?.items ?? [];
  const hook = items.find((h) => h.id === picked) ?? items[0];
  return (
    <section aria-labelledby="hooks-title">
      <h2 id="hooks-title">Webhooks</h2>
      <ErrorNote error={hooks.error} onRetry={hooks.reload} />
      {hooks.data === null ? (
        hooks.loading ? (
          <Loading what="webhooks" />
        ) : null
      ) : hook === undefined ? (
        <Empty>
          No webhooks. Subscribe a URL to key events with <code>POST /v1/webhooks</code>; what is sent to it
          and how it went shows here.
        </Empty>
      ) : (
        <>
          <form
            className="filters"
            onSubmit={(e) => {
              e.preventDefault();
            }}
          >
            <div className="pick">
              <label htmlFor="hook-pick">Webhook</label>
              <select
                id="hook-pick"
                value={hook.id}
                onChange={(e) => {
                  setPicked(e.target.value);
                }}
              >
                {items.map((h) => (
                  <option key={h.id} value={h.id}>
                    {h.url}
                    {h.description !== null ? ` (${h.description})` : ''}
                    {h.team !== null ? ` · team ${h.team}` : ''}
                  </option>
                ))}
              </select>
            </div>
          </form>
          <WebhookLog key={hook.id} hook={hook} />
        </>
      )}
    </section>
  );
}

/**
 * Deliveries (issue 24, `admin:manage`): the owner mail log and each webhook's delivery log, so a
 * failure that would otherwise be only a metric and a server log line is seen where admins look.
 */
export function DeliveriesPage(): ReactNode {
  return (
    <section aria-labelledby="deliveries-title" className="deliveries">
      <h1 id="deliveries-title">Deliveries</h1>
      <MailLog />
      <Webhooks />
    </section>
  );
}
