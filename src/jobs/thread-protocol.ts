import { JobInterruptedError, type HandlerEvent, type StopReason } from './job-definition.ts';
import { findSqlState } from './job-error.ts';

/** Messages between the main thread (queue, database) and a worker thread (handlers). */
export interface SerializedJobContext {
  jobId: string;
  type: string;
  attempt: number;
  maxAttempts: number;
  ownerId: string | null;
  fileId: string | null;
  traceparent?: string;
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** The messages of the `cause` chain, for the log. */
  causes?: string[];
  /** The SQLSTATE on the cause chain: decides whether a failure is permanent (job-error.ts). */
  sqlState?: string;
  /** Set when the error was the attempt's own JobInterruptedError. */
  stopReason?: StopReason;
}

export type ToThread =
  | { kind: 'run'; callId: number; payload: unknown; context: SerializedJobContext }
  | { kind: 'abort'; callId: number; reason: StopReason }
  | { kind: 'reply'; requestId: number; rows?: unknown[]; error?: SerializedError };

export type FromThread =
  | { kind: 'ready' }
  | { kind: 'done'; callId: number; result: unknown }
  | { kind: 'failed'; callId: number; error: SerializedError }
  | { kind: 'query'; requestId: number; text: string; params: unknown[]; rowMode: 'array' | 'object' }
  | { kind: 'progress'; requestId: number; callId: number; current: number; total: number | null; message: string | null }
  | { kind: 'emit'; callId: number; event: HandlerEvent };

export function serializeError(error: unknown): SerializedError {
  if (error instanceof JobInterruptedError) return { name: error.name, message: error.message, stopReason: error.stopReason };
  if (error instanceof Error) {
    const sqlState = findSqlState(error);
    const causes: string[] = [];
    for (let cause = error.cause, depth = 0; cause instanceof Error && depth < 4; cause = cause.cause, depth += 1)
      causes.push(cause.message);
    return {
      name: error.name,
      message: error.message,
      ...(causes.length > 0 ? { causes } : {}),
      ...(error.stack ? { stack: error.stack } : {}),
      ...(sqlState ? { sqlState } : {}),
    };
  }
  return { name: 'Error', message: String(error) };
}

/** Rebuilds an error on the other side of the port, with what its classification needs. */
export function deserializeError(serialized: SerializedError): Error {
  if (serialized.stopReason) return new JobInterruptedError(serialized.stopReason);
  const cause = (serialized.causes ?? []).reduceRight<Error | undefined>(
    (inner, message) => new Error(message, { cause: inner }),
    undefined,
  );
  const error = new Error(serialized.message, cause ? { cause } : undefined);
  error.name = serialized.name;
  if (serialized.stack) error.stack = serialized.stack;
  if (serialized.sqlState) Object.assign(error, { code: serialized.sqlState });
  return error;
}
