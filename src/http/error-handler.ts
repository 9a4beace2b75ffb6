import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError } from '../errors/app-error.ts';
import { ERRORS, type ValidationIssue } from '../errors/catalog.ts';
import type { App } from './app-types.ts';
import { dependencyOutage, OutageLog } from './dependency-outage.ts';
import { MethodIndex } from './method-index.ts';
import { API_PREFIX } from './openapi.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: string;
  request_id: string;
  [extension: string]: unknown;
}

export function problemTypeFor(code: string): string {
  return `/problems/${code}`;
}

/**
 * `instance` is the path of a routed request; a request refused before routing (a path that is
 * not valid, too long) gets none, so the problem never echoes what the router could not read.
 */
export function problemBody(error: AppError, requestId: string, instance?: string): ProblemBody {
  return {
    ...error.extensions,
    type: problemTypeFor(error.code),
    title: error.title,
    status: error.status,
    ...(error.detail === undefined ? {} : { detail: error.detail }),
    ...(instance === undefined ? {} : { instance }),
    code: error.code,
    request_id: requestId,
  };
}

/**
 * Sends an AppError as RFC 9457 problem details. The body is serialized here rather than by
 * the route's response schema, which would strip the problem's members.
 */
export function sendProblem(reply: FastifyReply, error: AppError, options: { instance?: boolean } = {}): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  const request: FastifyRequest = reply.request;
  const instance = options.instance === false ? undefined : request.url.split('?')[0];
  return reply
    .code(error.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problemBody(error, request.id, instance)));
}

/** Translates the errors Fastify and its plugins raise into our catalog. */
export function toAppError(error: FastifyError | Error): AppError {
  if (isAppError(error)) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    return ERRORS.validation(validationIssues(fastifyError));
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return ERRORS.payloadTooLarge(fastifyError.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return ERRORS.unsupportedMediaType(fastifyError.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return ERRORS.malformedBody(fastifyError.message);
    default:
      break;
  }
  // The JSON body parser raises a plain SyntaxError marked 400.
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) {
    return ERRORS.malformedBody('The body is not valid JSON.');
  }
  if (dependencyOutage(error)) return ERRORS.serviceUnavailable('A service Intake depends on is unreachable; retry shortly.');
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // A client error from a plugin we have not mapped: keep its status, never its internals.
    return new AppError({ code: 'bad_request', status, title: 'Bad Request', detail: fastifyError.message, cause: error });
  }
  return ERRORS.internal(error);
}

function validationIssues(error: FastifyError): ValidationIssue[] {
  const context = error.validationContext ?? 'body';
  return (error.validation ?? []).map((issue) => {
    const params = issue.params as Record<string, unknown>;
    const segments = issue.instancePath.split('/').filter(Boolean).map(decodePointer);
    if (typeof params.missingProperty === 'string') segments.push(params.missingProperty);
    if (typeof params.additionalProperty === 'string') segments.push(params.additionalProperty);
    return { path: [context, ...segments].join('.'), message: issue.message ?? 'is invalid' };
  });
}

function decodePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Answers an unmatched request before it becomes a 404 problem (the console's pages); true when it did. */
export type NotFoundFallback = (request: FastifyRequest, reply: FastifyReply) => Promise<boolean>;

export function registerErrorHandling(app: App, options: { notFoundFallback?: NotFoundFallback } = {}): void {
  const methods = new MethodIndex();
  app.addHook('onRoute', (route) => {
    const routeMethods = Array.isArray(route.method) ? route.method : [route.method];
    methods.add(routeMethods, route.url ?? route.path);
  });

  const outages = new OutageLog(app.log);
  app.addHook('onResponse', (request, reply, done) => {
    // An API call that succeeded has read the database (every one authenticates or looks something up).
    if (outages.outages > 0 && request.routeOptions.url?.startsWith(API_PREFIX) && reply.statusCode < 300) outages.succeeded();
    done();
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    const outage = appError.code === 'service_unavailable' && !isAppError(error) ? dependencyOutage(error) : undefined;
    if (outage) {
      outages.refused(outage, error, request.id);
    } else if (appError.status >= 500) {
      request.log.error({ err: error }, 'request failed');
    } else {
      request.log.info({ code: appError.code, status: appError.status }, appError.detail ?? appError.title);
    }
    return sendProblem(reply, appError);
  });

  app.setNotFoundHandler(async (request, reply) => {
    if (options.notFoundFallback && (await options.notFoundFallback(request, reply))) return reply;
    const path = request.url.split('?')[0] ?? '/';
    const allowed = methods.allowedFor(path);
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      return sendProblem(reply, ERRORS.methodNotAllowed(request.method, allowed));
    }
    return sendProblem(reply, ERRORS.routeNotFound(request.method, path));
  });
}
