/**
 * Why a file could not be processed, in terms a job runner can act on.
 *
 * A `PermanentProcessingError` means the bytes themselves are the problem (bad data, a hostile
 * file, a limit exceeded): running the job again on the same blob gives the same answer, so
 * the queue must fail it at once instead of retrying. Anything else a processor throws (a
 * storage read that broke, an `AbortError`) is not about the data and may be retried.
 */
export type PermanentProcessingErrorCode =
  | 'unsupported_content_type'
  | 'malformed_file'
  | 'encoding_unsupported'
  | 'record_too_large'
  | 'nesting_too_deep'
  | 'too_many_rows'
  | 'file_too_large'
  | 'zip_bomb'
  | 'pixel_limit_exceeded'
  | 'sheet_not_found'
  | 'schema_mismatch'
  | 'processing_timeout';

export class PermanentProcessingError extends Error {
  /** Always false: the same input fails the same way, so retrying is pointless. */
  readonly retryable = false;

  constructor(
    readonly code: PermanentProcessingErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PermanentProcessingError';
  }
}

export function isPermanentProcessingError(error: unknown): error is PermanentProcessingError {
  return error instanceof PermanentProcessingError;
}
