import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { KeywardenError, statusOf, titleOf, type ErrorCode } from '../core/errors.js';
import { withoutKeys } from '../core/keys.js';

/**
 * The path of a request's URL, for logs and details: never its query string, where a client may
 * have put a secret (`?access_token=…`), at most 200 characters, and a key pasted into it (as a
 * key id) cut to its public start.
 */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  const path = withoutKeys(q < 0 ? url : url.slice(0, q));
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}

/**
 * RFC 9457 problem+json. `detail` says precisely what was wrong; it never carries a secret (a
 * key-shaped string the detail quotes from the request is cut to its public start).
 */
export function sendProblem(
  reply: FastifyReply,
  code: ErrorCode,
  given: string,
  status: number = statusOf(code),
): FastifyReply {
  const detail = withoutKeys(given);
  if (status < 500)
    reply.request.log.debug({ code, detail, url: pathOf(reply.request.url) }, 'request refused');
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .type('application/problem+json')
    .send({
      type: `urn:keywarden:problem:${code.toLowerCase()}`,
      title: titleOf(code),
      status,
      detail,
      code,
      requestId: reply.request.id,
    });
}

/** Fastify's own 4xx errors, by their code, mapped onto ours. */
const FASTIFY_CODES: Record<string, ErrorCode | undefined> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_BAD_URL: 'VALIDATION_FAILED',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
};

/** A precise detail for each of Fastify's own errors (its messages quote the raw URL or path). */
function fastifyDetail(code: ErrorCode, err: FastifyError, req: FastifyRequest): string {
  switch (err.code) {
    case 'FST_ERR_BAD_URL':
      return 'the URL path is not valid percent-encoded UTF-8';
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return 'a path parameter of the URL is longer than 100 characters';
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'the Content-Length header does not match the body';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'the Content-Type is application/json but the body is empty';
  }
  if (code === 'PAYLOAD_TOO_LARGE') return 'the request body exceeds the 1 MiB limit';
  if (code === 'UNSUPPORTED_MEDIA_TYPE') {
    const type = (req.headers['content-type'] ?? '').slice(0, 100);
    return `unsupported Content-Type ${JSON.stringify(type)}; send application/json`;
  }
  return err.message;
}

/** Our code for one of Fastify's 4xx statuses without a mapped code. */
function codeOfStatus(status: number): ErrorCode {
  switch (status) {
    case 404:
      return 'NOT_FOUND';
    case 405:
      return 'METHOD_NOT_ALLOWED';
    case 408:
      return 'REQUEST_TIMEOUT';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 414:
      return 'URI_TOO_LONG';
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 429:
      return 'RATE_LIMITED';
    case 431:
      return 'HEADERS_TOO_LARGE';
    default:
      return 'VALIDATION_FAILED';
  }
}

/**
 * The one error handler: expected errors become their problem; validation errors name the
 * field; an unreachable database is a 503; anything unexpected is logged with the request id and
 * answered as a bare 500. Which driver errors mean "storage unreachable" is storage's knowledge,
 * so the composition root passes that predicate in (http/ never imports storage/ directly).
 */
export function errorHandler(
  isStorageUnavailable: (err: unknown) => boolean,
): (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => FastifyReply {
  return (err, req, reply) => handleError(err, req, reply, isStorageUnavailable);
}

function handleError(
  err: FastifyError,
  req: FastifyRequest,
  reply: FastifyReply,
  isStorageUnavailable: (err: unknown) => boolean,
): FastifyReply {
  if (err instanceof KeywardenError) return sendProblem(reply, err.code, err.detail, err.status);
  if (err.validation !== undefined) return sendProblem(reply, 'VALIDATION_FAILED', err.message);
  const mapped = FASTIFY_CODES[err.code];
  if (mapped !== undefined) return sendProblem(reply, mapped, fastifyDetail(mapped, err, req));
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    const code = codeOfStatus(err.statusCode);
    return sendProblem(reply, code, fastifyDetail(code, err, req), err.statusCode);
  }
  if (err.code === 'FST_ERR_ASYNC_CONSTRAINT') {
    return sendProblem(reply, 'VALIDATION_FAILED', 'the request does not meet the route constraints');
  }
  if (isStorageUnavailable(err)) {
    return sendProblem(reply, 'SERVICE_UNAVAILABLE', 'storage is unreachable; try again shortly');
  }
  req.log.error({ err }, 'unexpected error');
  return sendProblem(
    reply,
    'INTERNAL',
    `an unexpected error occurred; quote request id ${req.id} when reporting it`,
  );
}

/**
 * A whole HTTP/1.1 answer with a problem+json body, written straight to a socket: for what fails
 * before Fastify has a request (a timeout, oversized headers, a connection over the per-address
 * cap), so that even those answers are problem+json.
 */
export function rawProblem(code: ErrorCode, detail: string, extraHeaders = ''): string {
  const status = statusOf(code);
  const body = JSON.stringify({
    type: `urn:keywarden:problem:${code.toLowerCase()}`,
    title: titleOf(code),
    status,
    detail,
    code,
  });
  return (
    `HTTP/1.1 ${status} ${titleOf(code)}\r\nContent-Type: application/problem+json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extraHeaders}\r\n${body}`
  );
}
