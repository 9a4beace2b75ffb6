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
  badRequest: (detail: string) => new AppError({ code: 'bad_request', status: 400, title: 'Bad Request', detail }),
  malformedBody: (detail: string) => new AppError({ code: 'malformed_body', status: 400, title: 'Bad Request', detail }),
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
  invalidPath: () =>
    new AppError({
      code: 'invalid_path',
      status: 400,
      title: 'Bad Request',
      detail: 'The request path is not valid percent-encoded UTF-8.',
    }),
  pathTooLong: () =>
    new AppError({
      code: 'path_too_long',
      status: 414,
      title: 'URI Too Long',
      detail: 'A segment of the request path is longer than any id.',
    }),
  headersTooLarge: () =>
    new AppError({
      code: 'headers_too_large',
      status: 431,
      title: 'Request Header Fields Too Large',
      detail: 'The request headers exceed the size the server accepts.',
    }),
  requestTimeout: () =>
    new AppError({
      code: 'request_timeout',
      status: 408,
      title: 'Request Timeout',
      detail: 'The request was not received in time.',
    }),
  malformedRequest: () =>
    new AppError({ code: 'malformed_request', status: 400, title: 'Bad Request', detail: 'The request is not valid HTTP.' }),
  unknownParameters: (...names: string[]) =>
    new AppError({
      code: 'validation_failed',
      status: 422,
      title: 'Unprocessable Content',
      detail: `Unknown query parameter${names.length === 1 ? '' : 's'}: ${names.join(', ')}.`,
      extensions: {
        errors: names.map((name) => ({ path: `querystring.${name}`, message: 'is not a parameter of this operation' })),
      },
    }),
  // ── jobs ───────────────────────────────────────────────────────────────────────
  jobNotFound: () => new AppError({ code: 'job_not_found', status: 404, title: 'Not Found', detail: 'No job with this id.' }),
  jobAlreadyFinished: (status: string) =>
    new AppError({
      code: 'job_already_finished',
      status: 409,
      title: 'Conflict',
      detail: `The job has already finished (${status}); there is nothing to cancel.`,
    }),
  jobNotFailed: (status: string) =>
    new AppError({
      code: 'job_not_failed',
      status: 409,
      title: 'Conflict',
      detail: `Only a failed or timed-out job can be retried or discarded; this one is ${status}.`,
    }),
  jobStillFinishing: () =>
    new AppError({
      code: 'job_still_finishing',
      status: 409,
      title: 'Conflict',
      detail: 'The queue is still recording the end of this job’s last attempt; try again in a moment.',
      headers: { 'Retry-After': '1' },
    }),
  rateLimited: (retryAfterSeconds: number) =>
    new AppError({
      code: 'rate_limited',
      status: 429,
      title: 'Too Many Requests',
      detail: `Too many requests; retry in ${retryAfterSeconds} s.`,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    }),
  // ── authentication and authorization ──────────────────────────────────────────
  // Every 401 names the scheme (RFC 9110 §11.6.1); token problems add RFC 6750's error code.
  unauthenticated: (detail = 'Authentication is required: send the access cookie, a bearer token or an API key.') =>
    new AppError({
      code: 'unauthenticated',
      status: 401,
      title: 'Unauthorized',
      detail,
      headers: { 'WWW-Authenticate': 'Bearer realm="intake"' },
    }),
  invalidToken: (detail = 'The token is malformed, has a bad signature or is of the wrong type.') =>
    bearerProblem('invalid_token', detail),
  tokenExpired: () => bearerProblem('token_expired', 'The token has expired; refresh it or sign in again.'),
  tokenRevoked: () => bearerProblem('token_revoked', 'The token or its session has been revoked; sign in again.'),
  tokenReused: () =>
    bearerProblem(
      'token_reused',
      'This refresh token was already used. Its whole session has been revoked as a precaution; sign in again.',
    ),
  accountDisabled: () => bearerProblem('account_disabled', 'The account has been deactivated.'),
  invalidCredentials: () =>
    new AppError({
      code: 'invalid_credentials',
      status: 401,
      title: 'Unauthorized',
      detail: 'The email or password is incorrect.',
      headers: { 'WWW-Authenticate': 'Bearer realm="intake"' },
    }),
  invalidCurrentPassword: () =>
    new AppError({
      code: 'invalid_current_password',
      status: 400,
      title: 'Bad Request',
      detail: 'The current password is incorrect.',
    }),
  forbidden: (detail = 'Your role does not allow this action.') =>
    new AppError({ code: 'forbidden', status: 403, title: 'Forbidden', detail }),
  csrfMissing: () =>
    new AppError({
      code: 'csrf_missing',
      status: 403,
      title: 'Forbidden',
      detail: 'Cookie-authenticated changes need the X-CSRF-Token header, set to the csrf_token cookie.',
    }),
  csrfMismatch: () =>
    new AppError({
      code: 'csrf_mismatch',
      status: 403,
      title: 'Forbidden',
      detail: 'The X-CSRF-Token header does not match the csrf_token cookie.',
    }),
  crossSiteRequest: () =>
    new AppError({
      code: 'cross_site_request',
      status: 403,
      title: 'Forbidden',
      detail: "Sign-in from another site is refused: the request must come from this service's own pages or an allowed origin.",
    }),
  registrationClosed: () =>
    new AppError({
      code: 'registration_closed',
      status: 403,
      title: 'Forbidden',
      detail: 'Registration is closed on this server; ask an administrator for an account.',
    }),
  emailTaken: () =>
    new AppError({ code: 'email_taken', status: 409, title: 'Conflict', detail: 'An account with this email already exists.' }),
  emailNotConfigured: () =>
    new AppError({
      code: 'email_not_configured',
      status: 501,
      title: 'Not Implemented',
      detail:
        'This server sends no e-mail (SMTP_URL is not set), so links cannot be mailed. An operator can run `intake reset-password --email <address>`.',
    }),
  resetTokenInvalid: () =>
    new AppError({
      code: 'reset_token_invalid',
      status: 400,
      title: 'Bad Request',
      detail: 'The password-reset link is wrong, expired or already used; ask for a new one.',
    }),
  verificationTokenInvalid: () =>
    new AppError({
      code: 'verification_token_invalid',
      status: 400,
      title: 'Bad Request',
      detail: 'The verification link is wrong, expired or already used; ask for a new one.',
    }),
  emailNotVerified: () =>
    new AppError({
      code: 'email_not_verified',
      status: 403,
      title: 'Forbidden',
      detail:
        'Confirm your e-mail address first: follow the link we sent, or ask for a new one (POST /auth/verify-email/resend).',
    }),
  twoFactorChallengeInvalid: () =>
    new AppError({
      code: 'two_factor_challenge_invalid',
      status: 401,
      title: 'Unauthorized',
      detail: 'The sign-in challenge is unknown, expired or already completed; sign in with your password again.',
      headers: { 'WWW-Authenticate': 'Bearer realm="intake"' },
    }),
  invalidTwoFactorCode: () =>
    new AppError({
      code: 'invalid_two_factor_code',
      status: 401,
      title: 'Unauthorized',
      detail: 'The code is wrong or was already used; enter the current code of your authenticator app, or a recovery code.',
      headers: { 'WWW-Authenticate': 'Bearer realm="intake"' },
    }),
  twoFactorCodeWrong: () =>
    new AppError({
      code: 'two_factor_code_wrong',
      status: 400,
      title: 'Bad Request',
      detail: 'The code is wrong or was already used; enter the current code of your authenticator app.',
    }),
  twoFactorAlreadyEnabled: () =>
    new AppError({
      code: 'two_factor_already_enabled',
      status: 409,
      title: 'Conflict',
      detail: 'Two-factor authentication is already on; disable it first to enrol a new authenticator.',
    }),
  twoFactorNotEnrolled: (detail: string) =>
    new AppError({ code: 'two_factor_not_enrolled', status: 409, title: 'Conflict', detail }),
  twoFactorRequired: () =>
    new AppError({
      code: 'two_factor_required',
      status: 403,
      title: 'Forbidden',
      detail:
        'Administrators must turn on two-factor authentication here (REQUIRE_2FA_FOR_ADMINS): enrol under POST /users/me/two-factor, then sign in again.',
    }),
  setupComplete: () =>
    new AppError({
      code: 'setup_complete',
      status: 409,
      title: 'Conflict',
      detail: 'An administrator already exists; sign in, or ask an administrator for access.',
    }),
  setupTokenRequired: (detail: string) => new AppError({ code: 'setup_token_required', status: 403, title: 'Forbidden', detail }),
  setupTokenInvalid: () =>
    new AppError({
      code: 'setup_token_invalid',
      status: 403,
      title: 'Forbidden',
      detail: 'The setup token is wrong or already used; use the link the server printed in its log at start.',
    }),
  serviceUnavailable: (detail: string, retryAfterSeconds = 5) =>
    new AppError({
      code: 'service_unavailable',
      status: 503,
      title: 'Service Unavailable',
      detail,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    }),
  // ── identity providers ─────────────────────────────────────────────────────────
  identityProviderNotFound: () =>
    new AppError({
      code: 'identity_provider_not_found',
      status: 404,
      title: 'Not Found',
      detail: 'No sign-in provider with this name is configured (see GET /auth/providers).',
    }),
  identityProviderUnavailable: (provider: string, cause?: unknown) =>
    new AppError({
      code: 'identity_provider_unavailable',
      status: 503,
      title: 'Service Unavailable',
      detail: `The sign-in provider ${provider} cannot be reached; try again shortly.`,
      headers: { 'Retry-After': '30' },
      cause,
    }),
  identitySignInExpired: () =>
    new AppError({
      code: 'identity_sign_in_expired',
      status: 400,
      title: 'Bad Request',
      detail:
        'This sign-in was not started in this browser, was already used, or took too long; start it again from the sign-in page.',
    }),
  identitySignInRejected: (detail: string, cause?: unknown) =>
    new AppError({ code: 'identity_sign_in_rejected', status: 401, title: 'Unauthorized', detail, cause }),
  identityEmailInUse: () =>
    new AppError({
      code: 'identity_email_in_use',
      status: 409,
      title: 'Conflict',
      detail:
        'An account with this address exists but its address was never confirmed here; sign in with its password and link the provider from your account page.',
    }),
  identityLinkedElsewhere: () =>
    new AppError({
      code: 'identity_linked_elsewhere',
      status: 409,
      title: 'Conflict',
      detail: 'This provider account already signs in to another account; unlink it there first.',
    }),
  lastSignInMethod: () =>
    new AppError({
      code: 'last_sign_in_method',
      status: 409,
      title: 'Conflict',
      detail: 'This is the only way to sign in to the account; set a password or link another provider first.',
    }),
  // ── blob storage ───────────────────────────────────────────────────────────────
  fileTooLarge: (limitBytes: number, filename?: string) =>
    new AppError({
      code: 'file_too_large',
      status: 413,
      title: 'Content Too Large',
      detail: `${filename ? `${filename}: the file` : 'The file'} exceeds the limit of ${limitBytes} bytes.`,
      extensions: { limit_bytes: limitBytes },
    }),
  fileUnreadable: (reason: string, detail: string) =>
    new AppError({ code: 'file_unreadable', status: 422, title: 'Unprocessable Content', detail, extensions: { reason } }),
  quotaExceeded: (quota: { limit: 'bytes' | 'files'; limitValue: number; usage: { bytes: number; files: number } }) =>
    new AppError({
      code: 'quota_exceeded',
      status: 413,
      title: 'Content Too Large',
      detail:
        quota.limit === 'bytes'
          ? `The account's storage quota of ${quota.limitValue} bytes would be exceeded (${quota.usage.bytes} bytes used).`
          : `The account's quota of ${quota.limitValue} files would be exceeded (${quota.usage.files} files stored).`,
      extensions: {
        limit: quota.limit,
        limit_value: quota.limitValue,
        usage: { bytes: quota.usage.bytes, files: quota.usage.files },
      },
    }),
  tusVersionUnsupported: (version: string) =>
    new AppError({
      code: 'tus_version_unsupported',
      status: 412,
      title: 'Precondition Failed',
      detail: `Resumable uploads speak tus ${version}; send Tus-Resumable: ${version}.`,
      headers: { 'Tus-Version': version },
    }),
  checksumMismatch: () =>
    new AppError({
      code: 'checksum_mismatch',
      status: 460,
      title: 'Checksum Mismatch',
      detail: 'The chunk does not match its Upload-Checksum; it was not stored.',
    }),
  tooManyFiles: (limit: number) =>
    new AppError({
      code: 'too_many_files',
      status: 400,
      title: 'Bad Request',
      detail: `At most ${limit} files may be uploaded in one request.`,
      extensions: { limit },
    }),
  blobNotFound: () =>
    new AppError({ code: 'blob_not_found', status: 404, title: 'Not Found', detail: 'The stored content does not exist.' }),
  blobKeyInvalid: (reason: string) =>
    new AppError({ code: 'blob_key_invalid', status: 400, title: 'Bad Request', detail: `Invalid storage key: ${reason}.` }),
  rangeNotSatisfiable: (sizeBytes: number) =>
    new AppError({
      code: 'range_not_satisfiable',
      status: 416,
      title: 'Range Not Satisfiable',
      detail: `The requested range lies outside the content (${sizeBytes} bytes).`,
      headers: { 'Content-Range': `bytes */${sizeBytes}` },
    }),
  signedUrlInvalid: () =>
    new AppError({
      code: 'signed_url_invalid',
      status: 403,
      title: 'Forbidden',
      detail: 'The link is not valid: its signature does not match.',
    }),
  signedUrlExpired: () =>
    new AppError({ code: 'signed_url_expired', status: 403, title: 'Forbidden', detail: 'The link has expired.' }),
  // ── webhooks ───────────────────────────────────────────────────────────────────
  webhookNotFound: () =>
    new AppError({ code: 'webhook_not_found', status: 404, title: 'Not Found', detail: 'No webhook endpoint with this id.' }),
  webhookDeliveryNotFound: () =>
    new AppError({
      code: 'webhook_delivery_not_found',
      status: 404,
      title: 'Not Found',
      detail: 'No delivery with this id for this endpoint.',
    }),
  webhookUrlRefused: (reason: string) =>
    new AppError({
      code: 'webhook_url_refused',
      status: 422,
      title: 'Unprocessable Content',
      detail: `The webhook URL cannot be used: ${reason}.`,
      extensions: { errors: [{ path: '/url', message: reason }] },
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

function bearerProblem(code: string, detail: string): AppError {
  return new AppError({
    code,
    status: 401,
    title: 'Unauthorized',
    detail,
    headers: { 'WWW-Authenticate': 'Bearer realm="intake", error="invalid_token"' },
  });
}

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
  invalid_path: { status: 400, description: 'The request path is not valid percent-encoded UTF-8.' },
  path_too_long: { status: 414, description: 'A path segment is longer than any id the API uses.' },
  headers_too_large: { status: 431, description: "The request headers exceed the server's limit." },
  request_timeout: { status: 408, description: 'The client did not send the whole request in time.' },
  malformed_request: { status: 400, description: 'The request is not valid HTTP (rejected before routing).' },
  conflict: { status: 409, description: 'The request conflicts with the current state of the resource.' },
  job_not_found: { status: 404, description: 'The job does not exist, has expired, or belongs to someone else.' },
  job_already_finished: { status: 409, description: 'The job has already finished; it cannot be cancelled.' },
  job_not_failed: { status: 409, description: 'Only a failed or timed-out job can be retried or discarded.' },
  job_still_finishing: {
    status: 409,
    description: 'The queue is still recording the job’s last attempt; retry after `Retry-After` seconds.',
  },
  rate_limited: { status: 429, description: 'Too many requests; wait for `Retry-After` seconds.' },
  unauthenticated: { status: 401, description: 'No credentials were sent; see `WWW-Authenticate`.' },
  invalid_token: {
    status: 401,
    description: 'The token is malformed, badly signed, of the wrong type, or the API key is unknown.',
  },
  token_expired: { status: 401, description: 'The token or API key has expired; refresh or sign in again.' },
  token_revoked: { status: 401, description: 'The token or its session was revoked (logout, password change).' },
  token_reused: { status: 401, description: 'A spent refresh token was presented again; its whole session is revoked.' },
  account_disabled: { status: 401, description: 'The account was deactivated by an administrator.' },
  invalid_credentials: { status: 401, description: 'Sign-in failed: the email or password is incorrect.' },
  invalid_current_password: { status: 400, description: 'The current password given to change it is incorrect.' },
  forbidden: { status: 403, description: 'Authenticated, but the role does not allow this action.' },
  csrf_missing: { status: 403, description: 'A cookie-authenticated change lacks the `X-CSRF-Token` header.' },
  csrf_mismatch: { status: 403, description: 'The `X-CSRF-Token` header differs from the `csrf_token` cookie.' },
  cross_site_request: {
    status: 403,
    description: 'A request that sets session cookies came from another site (`Origin`, `Sec-Fetch-Site`).',
  },
  registration_closed: { status: 403, description: 'Self-registration is turned off (`REGISTRATION_OPEN=false`).' },
  email_taken: { status: 409, description: 'An account with this email (compared case-insensitively) exists.' },
  email_not_configured: {
    status: 501,
    description: 'Password reset or verification by e-mail asked for, but `SMTP_URL` is not set.',
  },
  reset_token_invalid: { status: 400, description: 'The password-reset token is unknown, expired or already used.' },
  verification_token_invalid: { status: 400, description: 'The e-mail verification token is unknown, expired or already used.' },
  email_not_verified: {
    status: 403,
    description: 'With `EMAIL_VERIFICATION=required`, an unverified account may only sign in, verify and sign out.',
  },
  two_factor_challenge_invalid: {
    status: 401,
    description: 'The two-factor sign-in challenge is unknown, expired or already completed; sign in again.',
  },
  invalid_two_factor_code: {
    status: 401,
    description: 'Completing a sign-in: the two-factor or recovery code is wrong or already used.',
  },
  two_factor_code_wrong: { status: 400, description: 'Confirming or disabling two-factor: the code is wrong or already used.' },
  two_factor_already_enabled: { status: 409, description: 'Two-factor is already on; disable it before enrolling again.' },
  two_factor_not_enrolled: { status: 409, description: 'No enrolment to confirm, or two-factor is not on.' },
  two_factor_required: {
    status: 403,
    description: 'With `REQUIRE_2FA_FOR_ADMINS=true`, an administrator without two-factor may not use admin routes.',
  },
  setup_complete: { status: 409, description: 'First-run setup is over: an administrator already exists.' },
  setup_token_required: {
    status: 403,
    description:
      'Creating the first administrator needs the setup token from the server log (the client is not on loopback, or `TRUST_PROXY` is on).',
  },
  setup_token_invalid: { status: 403, description: 'The setup token is wrong or was already used.' },
  service_unavailable: { status: 503, description: 'A dependency is down; retry after `Retry-After` seconds.' },
  identity_provider_not_found: { status: 404, description: 'No sign-in provider of this name is configured (`OIDC_PROVIDERS`).' },
  identity_provider_unavailable: {
    status: 503,
    description: 'The identity provider (discovery, token or user endpoint) cannot be reached; see `Retry-After`.',
  },
  identity_sign_in_expired: {
    status: 400,
    description:
      'A provider callback without its sign-in cookie, with another `state`, already used, or past `OIDC_FLOW_TTL_SECONDS`.',
  },
  identity_sign_in_rejected: {
    status: 401,
    description:
      'The provider refused the code, or its answer failed a check (issuer, audience, signature, expiry, nonce, PKCE).',
  },
  identity_email_in_use: {
    status: 409,
    description: 'A provider proved an address whose account here never confirmed it: sign in with the password, then link.',
  },
  identity_linked_elsewhere: { status: 409, description: 'The provider account is already linked to another account.' },
  last_sign_in_method: { status: 409, description: 'Unlinking would leave the account with no way to sign in.' },
  file_too_large: { status: 413, description: 'A file exceeds its size limit; see `limit_bytes`.' },
  file_unreadable: {
    status: 422,
    description:
      'A preview cannot read the file as its type (no header, an unknown encoding, a broken workbook); `reason` names why.',
  },
  quota_exceeded: {
    status: 413,
    description:
      'The account would exceed its storage quota; `limit` names which (`bytes` or `files`), with `limit_value` and `usage`.',
  },
  tus_version_unsupported: {
    status: 412,
    description: 'A resumable-upload request lacks `Tus-Resumable: 1.0.0`; see `Tus-Version`.',
  },
  checksum_mismatch: {
    status: 460,
    description: 'A resumable-upload chunk does not match its `Upload-Checksum` (tus); nothing was stored.',
  },
  too_many_files: { status: 400, description: 'An upload request holds more files than allowed; see `limit`.' },
  blob_not_found: { status: 404, description: 'The stored content behind a link or file no longer exists.' },
  blob_key_invalid: { status: 400, description: 'A storage key is malformed (empty segment, `..`, forbidden character).' },
  range_not_satisfiable: { status: 416, description: 'The `Range` lies outside the content; `Content-Range` gives the size.' },
  signed_url_invalid: { status: 403, description: 'A signed link was altered or signed for another method or object.' },
  signed_url_expired: { status: 403, description: 'A signed link is past its expiry time.' },
  webhook_not_found: { status: 404, description: 'The webhook endpoint does not exist, or belongs to someone else.' },
  webhook_delivery_not_found: { status: 404, description: 'The delivery does not exist for this webhook endpoint.' },
  webhook_url_refused: {
    status: 422,
    description: 'The webhook URL is not http(s), carries credentials, or points at a private, loopback or link-local address.',
  },
  internal_error: { status: 500, description: 'An unexpected error; the log holds the details under the request id.' },
};
