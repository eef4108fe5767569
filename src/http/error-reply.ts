// Error mapping: each failure becomes `{ error: { code, message, requestId } }`, code stable.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TenancyError, isTenancyError, type ErrorCode } from '../errors.ts';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string };
}

// The code each request failed with, for its one completion log line.
const failures = new WeakMap<FastifyRequest, ErrorCode>();

/** The catalogue code a request failed with, if it failed. */
export function failureOf(request: FastifyRequest): ErrorCode | undefined {
  return failures.get(request);
}

const invalid = (detail: string): TenancyError =>
  new TenancyError('VALIDATION_FAILED', { params: { detail } });

// Fastify's own client errors, each given a fixed text: their messages may quote the request.
const frameworkDetails: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'the body is not valid JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the body is empty',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'send the body as application/json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'content-length does not match the body',
  FST_ERR_BAD_URL: 'the URL is malformed',
  FST_ERR_VALIDATION: 'the request does not match its schema',
};

/**
 * The error a client may see for `err`. Library errors keep their code and templated message;
 * Fastify's client errors become VALIDATION_FAILED (or PAYLOAD_TOO_LARGE); anything else is
 * INTERNAL, so no stack or internal message leaves the process.
 */
export function toPublicError(err: unknown): TenancyError {
  if (isTenancyError(err)) return err;
  const fields = (typeof err === 'object' && err !== null ? err : {}) as Partial<FastifyError>;
  const code = typeof fields.code === 'string' ? fields.code : '';
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new TenancyError('PAYLOAD_TOO_LARGE');
  if (code === 'FST_ERR_MAX_PARAM_LENGTH') return new TenancyError('NOT_FOUND');
  const detail = frameworkDetails[code];
  if (detail !== undefined) return invalid(detail);
  const status = fields.statusCode ?? 500;
  if (code.startsWith('FST_') && status >= 400 && status < 500) {
    return invalid('the request is malformed');
  }
  return new TenancyError('INTERNAL', { cause: err });
}

/** The JSON body for `error`, stamped with the request id. */
export function errorBody(error: TenancyError, requestId: string): ErrorBody {
  return { error: { ...error.toJSON(), requestId } };
}

/** Sends `err` as the service's error body and remembers its code for the log line. */
export function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply):
  FastifyReply {
  const error = toPublicError(err);
  failures.set(request, error.code);
  // A client that already left gets nothing; its rollback is logged where it happened.
  if (error.status >= 500 && !reply.raw.destroyed) {
    // The original error goes to the log through the err serializer, which keeps its type,
    // code and stack frames but never its message.
    request.log.error({ err, code: error.code }, 'request failed');
  }
  return reply.code(error.status).header('x-request-id', request.id)
    .send(errorBody(error, request.id));
}

/** Routes every error, unknown route and framework-level failure through `sendError`. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  app.setNotFoundHandler((request, reply) => sendError(new TenancyError('NOT_FOUND'), request,
    reply));
}
