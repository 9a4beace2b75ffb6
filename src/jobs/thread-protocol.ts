import type { HandlerEvent } from './job-queue.ts';

/** Messages between the main thread (queue, database) and a worker thread (handlers). */
export interface SerializedJobContext {
  jobId: string;
  type: string;
  attempt: number;
  maxAttempts: number;
  ownerId: string | null;
  fileId: string | null;
}

export interface SerializedError {
  name: string;
  message: string;
  details?: unknown;
}

export type ToThread =
  | { kind: 'run'; callId: number; payload: unknown; context: SerializedJobContext }
  | { kind: 'abort'; callId: number; name: string; message: string }
  | { kind: 'reply'; requestId: number; rows?: unknown[]; error?: SerializedError };

export type FromThread =
  | { kind: 'ready' }
  | { kind: 'done'; callId: number; result: unknown }
  | { kind: 'failed'; callId: number; error: SerializedError }
  | { kind: 'query'; requestId: number; text: string; params: unknown[]; rowMode: 'array' | 'object' }
  | { kind: 'progress'; requestId: number; callId: number; current: number; total: number | null; message: string | null }
  | { kind: 'emit'; callId: number; event: HandlerEvent };

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const details = (error as { details?: unknown }).details;
    return { name: error.name, message: error.message, ...(details === undefined ? {} : { details }) };
  }
  return { name: 'Error', message: String(error) };
}

export function deserializeError(serialized: SerializedError): Error {
  const error = new Error(serialized.message);
  error.name = serialized.name;
  if (serialized.details !== undefined) Object.assign(error, { details: serialized.details });
  return error;
}
