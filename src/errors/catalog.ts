import { AppError } from './app-error.ts';

/**
 * Every error code the API can answer with. Codes are stable: clients branch on them, so a
 * code is never renamed or reused. `test/errors/catalog.test.ts` checks that each one is
 * documented in the OpenAPI description and the README.
 */
export interface ValidationIssue {
  path: string;
  message: string;
}

export const ERRORS = {
  // ── generic HTTP ───────────────────────────────────────────────────────────────
  notFound: (detail = 'The requested resource does not exist.') =>
    new AppError({ code: 'not_found', status: 404, title: 'Not Found', detail }),
  routeNotFound: (method: string, url: string) =>
    new AppError({
      code: 'route_not_found',
      status: 404,
      title: 'Not Found',
      detail: `No route matches ${method} ${url}.`,
    }),
  methodNotAllowed: (method: string, allowed: readonly string[]) =>
    new AppError({
      code: 'method_not_allowed',
      status: 405,
      title: 'Method Not Allowed',
      detail: `${method} is not allowed here; allowed: ${allowed.join(', ')}.`,
      headers: { Allow: allowed.join(', ') },
    }),
  badRequest: (detail: string) =>
    new AppError({ code: 'bad_request', status: 400, title: 'Bad Request', detail }),
  malformedBody: (detail: string) =>
    new AppError({ code: 'malformed_body', status: 400, title: 'Bad Request', detail }),
  validation: (errors: ValidationIssue[]) =>
    new AppError({
      code: 'validation_failed',
      status: 422,
      title: 'Unprocessable Content',
      detail: 'The request does not match the expected schema.',
      extensions: { errors },
    }),
  payloadTooLarge: (detail: string) =>
    new AppError({ code: 'payload_too_large', status: 413, title: 'Content Too Large', detail }),
  unsupportedMediaType: (detail: string) =>
    new AppError({ code: 'unsupported_media_type', status: 415, title: 'Unsupported Media Type', detail }),
  conflict: (detail: string) => new AppError({ code: 'conflict', status: 409, title: 'Conflict', detail }),
  notAuthenticated: () =>
    new AppError({ code: 'not_authenticated', status: 401, title: 'Unauthorized', detail: 'Sign in to use this endpoint.' }),
  forbidden: (detail = 'You are not allowed to do this.') =>
    new AppError({ code: 'forbidden', status: 403, title: 'Forbidden', detail }),
  // ── jobs ───────────────────────────────────────────────────────────────────────
  jobNotFound: () => new AppError({ code: 'job_not_found', status: 404, title: 'Not Found', detail: 'No job with this id.' }),
  jobAlreadyFinished: (status: string) =>
    new AppError({
      code: 'job_already_finished',
      status: 409,
      title: 'Conflict',
      detail: `The job has already finished (${status}); there is nothing to cancel.`,
    }),
  rateLimited: (retryAfterSeconds: number) =>
    new AppError({
      code: 'rate_limited',
      status: 429,
      title: 'Too Many Requests',
      detail: `Too many requests; retry in ${retryAfterSeconds} s.`,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    }),
  serviceUnavailable: (detail: string, retryAfterSeconds = 5) =>
    new AppError({
      code: 'service_unavailable',
      status: 503,
      title: 'Service Unavailable',
      detail,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    }),
  internal: (cause?: unknown) =>
    new AppError({
      code: 'internal_error',
      status: 500,
      title: 'Internal Server Error',
      detail: 'An unexpected error occurred. Quote the request id when reporting it.',
      cause,
    }),
} as const;

export type ErrorFactoryName = keyof typeof ERRORS;

/**
 * Codes with the status they are answered with, for the docs. Kept beside the factories so
 * that adding a factory without documenting it fails the catalog test.
 */
export const ERROR_CODES: Readonly<Record<string, { status: number; description: string }>> = {
  not_found: { status: 404, description: 'The resource does not exist, or belongs to someone else.' },
  route_not_found: { status: 404, description: 'No route matches the method and path.' },
  method_not_allowed: { status: 405, description: 'The path exists but not for this method; see `Allow`.' },
  bad_request: { status: 400, description: 'The request cannot be processed as sent.' },
  malformed_body: { status: 400, description: 'The body could not be parsed (invalid JSON, bad encoding).' },
  validation_failed: { status: 422, description: 'The body, query or path does not match the schema; see `errors`.' },
  payload_too_large: { status: 413, description: 'The body or an uploaded file exceeds its configured limit.' },
  unsupported_media_type: { status: 415, description: 'The content type is not accepted here.' },
  conflict: { status: 409, description: 'The request conflicts with the current state of the resource.' },
  not_authenticated: { status: 401, description: 'No valid credentials came with the request.' },
  forbidden: { status: 403, description: 'Authenticated, but this role may not do this.' },
  job_not_found: { status: 404, description: 'The job does not exist, has expired, or belongs to someone else.' },
  job_already_finished: { status: 409, description: 'The job has already finished; it cannot be cancelled.' },
  rate_limited: { status: 429, description: 'Too many requests; wait for `Retry-After` seconds.' },
  service_unavailable: { status: 503, description: 'A dependency is down; retry after `Retry-After` seconds.' },
  internal_error: { status: 500, description: 'An unexpected error; the log holds the details under the request id.' },
};
