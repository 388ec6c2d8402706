import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { KeywardenError } from '../../core/errors.js';
import { TARGET_RULES, refusedTarget } from '../../core/net-targets.js';

/** Resolves a host name to its addresses (injectable: tests stand in for DNS). */
export type Resolve = (host: string) => Promise<string[]>;

export const systemResolve: Resolve = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * The coarse outcome of a delivery, all a reader of the delivery log learns: the receiver's
 * status code, or one of these categories. Never the receiver's error text, body or headers
 * (a webhook must not work as a probe of other machines).
 */
export type DeliveryError =
  | 'http_error'
  | 'redirect_not_followed'
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'unreachable'
  | 'dns_failure'
  | 'tls_error'
  | 'refused_target'
  | 'network_error'
  | 'internal_error';

const CATEGORIES: ReadonlySet<string | null> = new Set<DeliveryError>([
  'http_error',
  'redirect_not_followed',
  'timeout',
  'connection_refused',
  'connection_reset',
  'unreachable',
  'dns_failure',
  'tls_error',
  'refused_target',
  'network_error',
  'internal_error',
]);

/**
 * The delivery log's `lastError` as a category, also for rows written before outcomes were
 * coarse (they held the receiver's or the socket's error text).
 */
export function coarseError(stored: string | null, statusCode: number | null): string | null {
  if (stored === null || CATEGORIES.has(stored)) return stored;
  return statusCode === null ? 'network_error' : 'http_error';
}

export interface DeliveryOutcome {
  statusCode: number | null;
  error: DeliveryError | null;
}

export interface TargetOptions {
  allowPrivate: boolean;
  resolve: Resolve;
}

/** The address to connect to, or the rule that refuses the target. */
async function resolveTarget(
  url: URL,
  o: TargetOptions,
): Promise<{ address: string } | { refused: string } | { unresolved: true }> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host) !== 0) addresses = [host];
  else {
    try {
      addresses = await o.resolve(host);
    } catch {
      return { unresolved: true };
    }
  }
  const first = addresses[0];
  if (first === undefined) return { unresolved: true };
  if (!o.allowPrivate) {
    // Every address the name has must be public: a name with one public and one internal address
    // is refused, whichever one a client would pick.
    for (const a of addresses) {
      const rule = refusedTarget(a);
      if (rule !== null) return { refused: rule };
    }
  }
  return { address: first };
}

/** Registration: refuses a target that does not resolve or resolves to an address webhooks may not reach (422). */
export async function checkTarget(url: URL, o: TargetOptions): Promise<void> {
  // With private targets allowed there is nothing to refuse; a name that does not resolve yet
  // (development) is then only a failed delivery.
  if (o.allowPrivate) return;
  const t = await resolveTarget(url, o);
  if ('unresolved' in t) {
    throw new KeywardenError('VALIDATION_FAILED', `url host "${url.hostname}" does not resolve`, 422);
  }
  if ('refused' in t) {
    const rule = t.refused as keyof typeof TARGET_RULES;
    throw new KeywardenError(
      'VALIDATION_FAILED',
      `url host "${url.hostname}" is ${TARGET_RULES[rule]} (rule: ${rule}); webhook targets must be public addresses`,
      422,
    );
  }
}

function category(err: unknown): DeliveryError {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return 'network_error';
  if (code === 'ECONNREFUSED') return 'connection_refused';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'connection_reset';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') return 'unreachable';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns_failure';
  if (/^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL)/.test(code)) return 'tls_error';
  return 'network_error';
}

/**
 * POSTs one delivery. The host is resolved and checked here, at every attempt (a name that was
 * public at registration may point inside later: DNS rebinding), and the request connects to the
 * very address that was checked: the URL's host name goes only into the Host header and TLS
 * (SNI and certificate check), never to a second lookup. Redirects are not followed. The whole
 * attempt, connect to response headers, is bounded by `timeoutMs`; the body is never read.
 */
export async function postDelivery(
  target: string,
  headers: Record<string, string>,
  body: string,
  o: TargetOptions & { timeoutMs: number },
): Promise<DeliveryOutcome> {
  const url = new URL(target);
  const t = await resolveTarget(url, o);
  if ('unresolved' in t) return { statusCode: null, error: 'dns_failure' };
  if ('refused' in t) return { statusCode: null, error: 'refused_target' };
  const https = url.protocol === 'https:';
  const sniHost = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise<DeliveryOutcome>((resolve) => {
    let settled = false;
    const done = (outcome: DeliveryOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const onResponse = (res: IncomingMessage): void => {
      const status = res.statusCode ?? 0;
      res.destroy();
      done({
        statusCode: status,
        error:
          status >= 200 && status < 300
            ? null
            : status >= 300 && status < 400
              ? 'redirect_not_followed'
              : 'http_error',
      });
    };
    const options = {
      host: t.address,
      port: url.port === '' ? (https ? 443 : 80) : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      agent: false as const,
      headers: { ...headers, host: url.host, 'content-length': String(Buffer.byteLength(body)) },
      ...(https && isIP(sniHost) === 0 ? { servername: sniHost } : {}),
    };
    const req = https ? httpsRequest(options, onResponse) : httpRequest(options, onResponse);
    const timer = setTimeout(() => {
      done({ statusCode: null, error: 'timeout' });
      req.destroy();
    }, o.timeoutMs);
    req.on('error', (err) => {
      done({ statusCode: null, error: category(err) });
    });
    req.end(body);
  });
}
