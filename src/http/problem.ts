import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { KeywardenError, statusOf, titleOf, type ErrorCode } from '../core/errors.js';
import { isStorageUnavailable } from '../storage/db.js';

/** RFC 9457 problem+json. `detail` says precisely what was wrong; it never carries a secret. */
export function sendProblem(
  reply: FastifyReply,
  code: ErrorCode,
  detail: string,
  status = statusOf(code),
): FastifyReply {
  if (status < 500) reply.request.log.debug({ code, detail, url: reply.request.url }, 'request refused');
  return reply
    .code(status)
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
};

/**
 * The one error handler: expected errors become their problem; validation errors name the
 * field; anything unexpected is logged with the request id and answered as a bare 500.
 */
export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof KeywardenError) return sendProblem(reply, err.code, err.detail, err.status);
  if (err.validation !== undefined) return sendProblem(reply, 'VALIDATION_FAILED', err.message);
  const mapped = FASTIFY_CODES[err.code];
  if (mapped !== undefined) {
    const detail =
      mapped === 'PAYLOAD_TOO_LARGE'
        ? 'the request body exceeds the 1 MiB limit'
        : mapped === 'UNSUPPORTED_MEDIA_TYPE'
          ? `unsupported Content-Type "${req.headers['content-type'] ?? ''}"; send application/json`
          : err.message;
    return sendProblem(reply, mapped, detail);
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return sendProblem(reply, err.statusCode === 404 ? 'NOT_FOUND' : 'VALIDATION_FAILED', err.message);
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
