import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import type { AppError } from '../errors/app-error.ts';
import { ERRORS } from '../errors/catalog.ts';
import { PROBLEM_CONTENT_TYPE, problemBody, sendProblem } from './error-handler.ts';
import { BASELINE_SECURITY_HEADERS } from './security.ts';

/**
 * Errors Fastify and Node raise before a request reaches the router, where neither hooks nor
 * the error handler run: a path that is not valid percent-encoding, a path parameter longer
 * than `maxParamLength`, and what Node's HTTP parser refuses (headers too large, not HTTP at
 * all, too slow). They get the same problem body, request id and security headers as every
 * other answer, and never echo the URL they could not read.
 */
export function frameworkErrorOptions(): Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler'> {
  return {
    frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
      const appError = routerError(error);
      request.log.info({ code: appError.code, status: appError.status }, appError.detail ?? appError.title);
      reply.headers({ ...BASELINE_SECURITY_HEADERS, 'x-request-id': request.id });
      return sendProblem(reply, appError, { instance: false });
    },
    clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket) {
      // A reset connection, or one already gone, has nobody left to answer.
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) socket.write(rawProblemResponse(parserError(error)));
      socket.destroy(error);
    },
  };
}

function routerError(error: FastifyError): AppError {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return ERRORS.invalidPath();
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return ERRORS.pathTooLong();
    default:
      return ERRORS.badRequest('The request cannot be routed.');
  }
}

function parserError(error: NodeJS.ErrnoException): AppError {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return ERRORS.headersTooLarge();
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return ERRORS.requestTimeout();
    default:
      return ERRORS.malformedRequest();
  }
}

/** A whole HTTP/1.1 response, for a socket whose request Node could not parse. */
function rawProblemResponse(error: AppError): string {
  const requestId = randomUUID();
  const body = JSON.stringify(problemBody(error, requestId));
  const headers: Record<string, string> = {
    ...BASELINE_SECURITY_HEADERS,
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': String(Buffer.byteLength(body)),
    'x-request-id': requestId,
    'cache-control': 'no-store',
    connection: 'close',
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? error.title}\r\n${lines.join('\r\n')}\r\n\r\n${body}`;
}
