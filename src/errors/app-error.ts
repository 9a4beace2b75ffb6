/**
 * The one error type services throw. It carries everything the HTTP layer needs to answer
 * with an RFC 9457 problem (status, stable code, human title and detail) without the
 * service knowing anything about HTTP frameworks.
 */
export interface AppErrorOptions {
  code: string;
  status: number;
  title: string;
  detail?: string;
  /** Extra members for the problem body, e.g. `errors` for validation failures. */
  extensions?: Record<string, unknown>;
  /** Response headers the answer must carry, e.g. `Retry-After` or `WWW-Authenticate`. */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(options: AppErrorOptions) {
    super(options.detail ?? options.title, { cause: options.cause });
    this.name = 'AppError';
    this.code = options.code;
    this.status = options.status;
    this.title = options.title;
    this.detail = options.detail;
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
