import { Compile } from '../vendor/typebox.ts';
import type { Static, TSchema } from '../vendor/typebox.ts';

// What a job type is and what its handler sees. The bottom of the queue machinery: it imports
// no other file of src/jobs, so the registry, the port, the store and the runner build on it.

export interface RetryPolicy {
  /** Attempts in total, the first included. 1 means never retried. */
  maxAttempts: number;
  /** Delay before the 2nd attempt; doubled for each attempt after it. */
  backoffMs: number;
  /** The cap on any single delay, so a long run of failures does not push a job days away. */
  maxBackoffMs: number;
  /**
   * Fraction of each delay drawn at random (0 = none, 1 = "full jitter"), so that jobs failing
   * together on a shared outage do not all come back at the same instant.
   */
  jitter: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, backoffMs: 1_000, maxBackoffMs: 5 * 60_000, jitter: 0.5 };

export interface JobDefinition<Payload extends TSchema = TSchema, Result = unknown> {
  readonly name: string;
  /** The queue it is routed to (the service's are listed by the composition root); tests and benches use their own. */
  readonly queue: string;
  /** Bumped when the payload shape changes incompatibly; stored with each job. */
  readonly version: number;
  readonly payload: Payload;
  readonly retry: RetryPolicy;
  /** When the task's AbortSignal fires so it can clean up; the job then ends `timed_out`. */
  readonly softTimeLimitMs: number;
  /** When the worker stops waiting for the attempt and frees its slot, cooperative or not. */
  readonly hardTimeLimitMs: number;
  /** Phantom: lets `register` and `enqueue` infer the handler's result type. */
  readonly __result?: Result;
}

export interface JobDefinitionInput<Payload extends TSchema> {
  name: string;
  queue: string;
  payload: Payload;
  version?: number;
  retry?: Partial<RetryPolicy>;
  softTimeLimitMs?: number;
  hardTimeLimitMs?: number;
}

const DEFAULT_SOFT_LIMIT_MS = 10 * 60_000;

/**
 * Declares a job type. Domains export the definition next to their handler; the API enqueues
 * with the definition (typed payload), workers register a handler for it.
 */
export function defineJob<Payload extends TSchema, Result = unknown>(
  input: JobDefinitionInput<Payload>,
): JobDefinition<Payload, Result> {
  const retry = { ...DEFAULT_RETRY, ...input.retry };
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) throw new Error(`${input.name}: maxAttempts must be ≥ 1`);
  if (retry.jitter < 0 || retry.jitter > 1) throw new Error(`${input.name}: jitter must be between 0 and 1`);
  const softTimeLimitMs = input.softTimeLimitMs ?? DEFAULT_SOFT_LIMIT_MS;
  // The default grace between soft and hard limits: long enough to clean up, short enough to free the slot.
  const hardTimeLimitMs = input.hardTimeLimitMs ?? softTimeLimitMs + Math.min(60_000, Math.max(1_000, softTimeLimitMs / 10));
  if (hardTimeLimitMs < softTimeLimitMs) throw new Error(`${input.name}: hardTimeLimitMs must be ≥ softTimeLimitMs`);
  return Object.freeze({
    name: input.name,
    queue: input.queue,
    version: input.version ?? 1,
    payload: input.payload,
    retry: Object.freeze(retry),
    softTimeLimitMs,
    hardTimeLimitMs,
  });
}

const validators = new WeakMap<JobDefinition, ReturnType<typeof Compile>>();

/** The first problem with a payload for this job type, or undefined when it is valid. */
export function payloadProblem(definition: JobDefinition, payload: unknown): string | undefined {
  let validator = validators.get(definition);
  if (!validator) {
    validator = Compile(definition.payload);
    validators.set(definition, validator);
  }
  const own = withoutTraceCarrier(payload);
  if (validator.Check(own)) return undefined;
  const first = validator.Errors(own)[0];
  return first ? `${first.instancePath || '/'} ${first.message}` : 'payload does not match its schema';
}

/**
 * With tracing on, a job carries the W3C trace context of its enqueue (`traceparent`,
 * `tracestate`) in this reserved member of its payload object: the payload is the one part of
 * a job that every adapter stores and hands to the worker unchanged (the jobs table, and through
 * it BullMQ), and it is never served by the API. Handlers never see it.
 */
export const TRACE_CARRIER_KEY = '$trace';

export type TraceCarrier = Record<string, string>;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The payload with `carrier` stored in it; a payload that is not an object carries nothing. */
export function withTraceCarrier(payload: unknown, carrier: TraceCarrier): unknown {
  if (!isPlainObject(payload) || Object.keys(carrier).length === 0) return payload;
  return { ...payload, [TRACE_CARRIER_KEY]: carrier };
}

export function traceCarrierOf(payload: unknown): TraceCarrier | undefined {
  if (!isPlainObject(payload)) return undefined;
  const carrier = payload[TRACE_CARRIER_KEY];
  if (!isPlainObject(carrier)) return undefined;
  const fields = Object.entries(carrier).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  return Object.fromEntries(fields);
}

/** The payload as its handler and its schema know it. */
export function withoutTraceCarrier(payload: unknown): unknown {
  if (!isPlainObject(payload) || !(TRACE_CARRIER_KEY in payload)) return payload;
  const { [TRACE_CARRIER_KEY]: _carrier, ...own } = payload;
  return own;
}

/** Delay before attempt `attempt + 1`, given that attempt number `attempt` (1-based) just failed. */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const exponential = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** Math.max(0, attempt - 1));
  const jitter = exponential * policy.jitter * random();
  return Math.round(exponential - jitter);
}

/**
 * Thrown by a handler when retrying cannot help (bad data): the job fails at once. Its message
 * is shown to the job's owner (bounded, see job-error.ts), so it is written for them: no SQL,
 * no stack, no row data. What an operator needs goes in `cause`, which only the log sees.
 */
export class PermanentJobError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'PermanentJobError';
  }
}

export function isPermanentJobError(error: unknown): error is PermanentJobError {
  // By name too: an error rebuilt after crossing a worker thread's MessagePort loses its class.
  return error instanceof PermanentJobError || (error instanceof Error && error.name === 'PermanentJobError');
}

/** Why an attempt's signal fired. `shutdown` and `lost` abandon the attempt without waiting. */
export type StopReason = 'cancel' | 'soft_timeout' | 'shutdown' | 'lost';

const STOP_MESSAGES: Record<StopReason, string> = {
  cancel: 'job was cancelled',
  soft_timeout: 'job reached its soft time limit',
  shutdown: 'job was interrupted by a shutdown',
  lost: 'job was interrupted: its lease was lost',
};

/**
 * The reason an attempt's AbortSignal carries. Handlers tell a cancellation from a timeout by
 * `stopReason`, never by the message. Named `TimeoutError` at the soft limit and `AbortError`
 * otherwise, as the platform names its own abort reasons.
 */
export class JobInterruptedError extends Error {
  constructor(readonly stopReason: StopReason) {
    super(STOP_MESSAGES[stopReason]);
    this.name = stopReason === 'soft_timeout' ? 'TimeoutError' : 'AbortError';
  }
}

export function stopReasonOf(signal: AbortSignal): StopReason | undefined {
  return signal.aborted && signal.reason instanceof JobInterruptedError ? signal.reason.stopReason : undefined;
}

/** A domain event a handler raises through `context.emit` (e.g. its file changed status). */
export interface HandlerEvent {
  type: string;
  [field: string]: unknown;
}

export interface ProgressUpdate {
  current: number;
  total?: number | null;
  message?: string | null;
}

/** What a handler receives besides its payload. */
export interface JobContext {
  readonly jobId: string;
  readonly type: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly ownerId: string | null;
  readonly fileId: string | null;
  /**
   * W3C `traceparent` the job carries when tracing is on: its enqueue's span, replaced by the
   * attempt's own where the worker traces too, so a handler's own spans join the trace.
   */
  readonly traceparent?: string;
  /** Fires on cancellation, at the soft time limit, and when the worker shuts down. */
  readonly signal: AbortSignal;
  /** Writes progress to the job row; readable through the API as soon as it resolves. */
  progress(update: ProgressUpdate): Promise<void>;
  /**
   * Announces a domain event about this job's subject (e.g. `file.status`) to the queue's
   * `onJobEvent` hook, from whichever thread the handler runs in. Fire and forget.
   */
  emit(event: HandlerEvent): void;
}

export type JobHandler<Payload extends TSchema = TSchema, Result = unknown> = (
  payload: Static<Payload>,
  context: JobContext,
) => Promise<Result>;
