import { isPermanentJobError } from './job-definition.ts';

/**
 * What a job's `error` may say, for its owner to read (GET /jobs, webhooks, WebSocket events).
 * A fixed set: a client can branch on the code, and nothing a handler throws reaches it
 * unfiltered. What went wrong inside (SQL, parameters, stacks, row data) is logged under the job id.
 */
export const JOB_ERROR_CODES = [
  /** The input can never be processed as it is (bad data, a limit exceeded): never retried. */
  'invalid_data',
  /** Something on our side failed (storage, database, a bug); retried while attempts remain. */
  'internal_error',
  'timed_out',
  'cancelled',
  /** The worker running it stopped responding and no attempt was left. */
  'stalled',
  /** No worker knows this job type (a rolling deploy, a removed feature). */
  'no_handler',
  /** The stored payload no longer matches its schema. */
  'invalid_payload',
] as const;
export type JobErrorCode = (typeof JOB_ERROR_CODES)[number];

export interface JobError {
  code: JobErrorCode;
  message: string;
}

/** The most a stored error may take, JSON-encoded (issue 15: a 9.97 MB error once reached every client). */
export const MAX_JOB_ERROR_BYTES = 1024;

/** Builds a stored error, cutting the message so that the whole error stays within MAX_JOB_ERROR_BYTES. */
export function jobError(code: JobErrorCode, message: string): JobError {
  // Control characters cannot be stored in every column nor logged on one line.
  // eslint-disable-next-line no-control-regex
  let text = message.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim() || 'The job failed.';
  const fits = (candidate: string) => Buffer.byteLength(JSON.stringify({ code, message: candidate })) <= MAX_JOB_ERROR_BYTES;
  if (fits(text)) return { code, message: text };
  // Shrinks by characters, not bytes, so a multi-byte character is never cut in half.
  let length = Math.min(text.length, MAX_JOB_ERROR_BYTES);
  while (length > 0 && !fits(`${text.slice(0, length)}…`)) length = Math.floor(length * 0.9);
  text = `${text.slice(0, length)}…`;
  return { code, message: text };
}

/** Reads a stored error, including rows written before codes existed (`{kind, message}`). */
export function storedJobError(value: unknown): JobError | null {
  if (value === null || typeof value !== 'object') return null;
  const { code, kind, message } = value as { code?: unknown; kind?: unknown; message?: unknown };
  const known = (JOB_ERROR_CODES as readonly unknown[]).includes(code) ? (code as JobErrorCode) : legacyCode(kind);
  return jobError(known, typeof message === 'string' ? message : 'The job failed.');
}

function legacyCode(kind: unknown): JobErrorCode {
  if (kind === 'permanent') return 'invalid_data';
  return (JOB_ERROR_CODES as readonly unknown[]).includes(kind) ? (kind as JobErrorCode) : 'internal_error';
}

/**
 * SQLSTATE class 22 ("data exception": a value the column or jsonb cannot hold, such as a lone
 * UTF-16 surrogate) and 23 ("integrity constraint violation") fail the same way on every
 * attempt, so they are permanent. Found anywhere on the `cause` chain (Drizzle wraps driver errors).
 */
export function permanentSqlState(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code)) return code;
  }
  return undefined;
}

/** How a failed attempt reads to the owner, and whether another attempt could succeed. */
export function classifyFailure(error: unknown): { permanent: boolean; error: JobError } {
  if (isPermanentJobError(error)) return { permanent: true, error: jobError('invalid_data', error.message) };
  const sqlState = permanentSqlState(error);
  if (sqlState) {
    return {
      permanent: true,
      error: jobError('invalid_data', `Some of the data cannot be stored by the database (SQLSTATE ${sqlState}).`),
    };
  }
  return {
    permanent: false,
    error: jobError('internal_error', 'The job failed on an internal error; the details are logged under its id.'),
  };
}

/** The failure as the log keeps it: bounded too (a 10 MB parameter list must not become one log line). */
export function loggableError(error: unknown): { type: string; message: string; stack?: string; sql_state?: string } {
  const limit = 4096;
  const cut = (text: string) => (text.length > limit ? `${text.slice(0, limit)}… (${text.length} characters)` : text);
  if (!(error instanceof Error)) return { type: typeof error, message: cut(String(error)) };
  const causes: string[] = [];
  for (let current = error.cause, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth += 1)
    causes.push(current.message);
  const message = [error.message, ...causes.map((text) => `caused by: ${text}`)].join('\n');
  const sqlState = findSqlState(error);
  return {
    type: error.name,
    message: cut(message),
    ...(error.stack ? { stack: cut(error.stack.split('\n').slice(0, 12).join('\n')) } : {}),
    ...(sqlState ? { sql_state: sqlState } : {}),
  };
}

/** The SQLSTATE on the `cause` chain, if any: crosses a worker thread's port with the error. */
export function findSqlState(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}
