import type { Static, TSchema } from '../vendor/typebox.ts';
import type { Logger } from 'pino';
import type { Db } from '../db/database.ts';
import type { ReadinessCheck } from '../http/readiness-check.ts';
import type { HandlerEvent, JobDefinition } from './job-definition.ts';
import type { JobError } from './job-error.ts';
import type { JobExecutor } from './job-executor.ts';
import type { JobRegistry } from './job-registry.ts';
import type { JobProgress, JobRow, JobStatus } from './jobs.schema.ts';

/**
 * Told of every job that reaches a final status (succeeded, failed, timed_out, cancelled),
 * inside the transaction that writes that status, so whatever it records (events, notifications)
 * commits with the outcome or not at all. Its own failure is logged and rolled back alone
 * (a savepoint): it never stops the outcome from being written.
 */
export type JobOutcomeListener = ((job: JobRow, tx: Db) => Promise<void>) & {
  /**
   * False when the listener would record nothing for a job like this one ending with this status
   * (decided from what the job was enqueued with): the outcome is then written without a
   * transaction around it (and may share its statement with others). Unset: always told.
   */
  wants?: (job: Pick<JobRow, 'queue' | 'type' | 'ownerId' | 'fileId'>, status: JobStatus) => boolean;
};

export interface EnqueueOptions {
  ownerId?: string | null;
  fileId?: string | null;
  /** Same key (per job type and owner) → same job: the second enqueue returns the first job. */
  idempotencyKey?: string;
  /** Run no earlier than this many milliseconds from now. */
  delayMs?: number;
  /**
   * The caller's open transaction. The job row is written inside it, so the job exists if and
   * only if the caller's own rows commit. Embedded: workers see it once committed. BullMQ: the
   * row waits in the table (not yet dispatched) and the relay hands it to Redis after the commit;
   * without `tx` the job is handed to Redis at once — so call `enqueue` after your commit.
   */
  tx?: Db;
}

export interface EnqueuedJob {
  id: string;
  /** False when an existing job with the same idempotency key was returned. */
  created: boolean;
  status: JobStatus;
}

export type CancelOutcome =
  /** It had not started: it never will. */
  | 'cancelled'
  /** It is running: its task's AbortSignal fires and the job ends `cancelled` shortly. */
  | 'cancelling'
  | 'already_finished'
  | 'not_found';

/** What an administrator's retry of a failed job did. */
export type RetryOutcome =
  | { outcome: 'retried'; job: JobRow }
  /** The job exists but has not failed (queued, running, succeeded, cancelled). */
  | { outcome: 'not_failed'; status: JobStatus }
  /** BullMQ: Redis still holds the attempt that just failed; a moment later the retry works. */
  | { outcome: 'busy' }
  | { outcome: 'not_found' };

export type DiscardOutcome =
  { outcome: 'discarded' } | { outcome: 'not_failed'; status: JobStatus } | { outcome: 'busy' } | { outcome: 'not_found' };

/** How one process's pool of queue workers runs (`JobQueue.startWorkers`). */
export interface WorkerPoolOptions {
  registry: JobRegistry;
  /** Identifies this worker in the jobs table (`locked_by`) and logs. */
  workerId?: string;
  /** Runs handlers (in this thread by default; a thread pool in `intake serve`). */
  executor?: JobExecutor;
  /** Only these queues (default: every queue a registered job type uses). */
  queues?: readonly string[];
  onFinished?: JobOutcomeListener;
}

export interface RunningWorkers {
  readonly workerId: string;
  /**
   * Takes no new jobs from now on; running ones go on. Synchronous, so that a limit reached as
   * an attempt starts stops the next claim (which may be one event-loop turn away).
   */
  stopClaiming(): void;
  /**
   * Stops taking jobs, lets running ones finish for up to `graceMs`, then aborts the rest and
   * hands them back to the queue (attempt not counted) for another worker.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * The job queue port. The jobs table is the record either way (status, progress, result);
 * adapters differ in how jobs reach workers: row claims (embedded) or Redis (BullMQ).
 */
export interface JobQueue {
  readonly kind: 'embedded' | 'bullmq';
  enqueue<Payload extends TSchema, Result>(
    definition: JobDefinition<Payload, Result>,
    payload: Static<Payload>,
    options?: EnqueueOptions,
  ): Promise<EnqueuedJob>;
  cancel(jobId: string): Promise<CancelOutcome>;
  /** Runs a failed (or timed-out) job again with fresh attempts (admin dashboard). */
  retry(jobId: string): Promise<RetryOutcome>;
  /** Deletes a failed (or timed-out) job (admin dashboard). */
  discard(jobId: string): Promise<DiscardOutcome>;
  startWorkers(options: WorkerPoolOptions): Promise<RunningWorkers>;
  /** Deletes finished jobs past retention (workers also run it periodically); returns how many. */
  sweep(): Promise<number>;
  readiness(): ReadinessCheck[];
  /** Closes connections this queue opened; workers must be closed first. */
  close(): Promise<void>;
}

export interface QueueSettings {
  /** How long a claimed attempt stays ours without a heartbeat before another worker may re-run it. */
  leaseMs: number;
  heartbeatMs: number;
  /** How often an idle embedded worker looks for due jobs. */
  pollIntervalMs: number;
  stalledCheckMs: number;
  sweepIntervalMs: number;
  /** How long finished jobs (their results and errors) are kept. */
  retentionMs: number;
  /** Slots per queue in one worker process. */
  concurrency: Readonly<Record<string, number>>;
  defaultConcurrency: number;
  shutdownGraceMs: number;
  /**
   * Told about every progress write and status change the queue makes (after the write), and
   * about events handlers raise. Realtime fan-out hangs here; it must not throw or block.
   */
  onJobEvent?: JobEventSink;
  /** Where lease times come from (default: the database's `now()`); a test passes a fake one. */
  clock?: () => Date;
}

/** Which job an event is about. */
export interface JobEventSubject {
  id: string;
  type: string;
  /** Absent when the emitter does not know it (a handler's event relayed from its thread). */
  queue?: string;
  /** Attempts counted so far (the running one included); absent as `queue` is. */
  attempt?: number;
  ownerId: string | null;
  fileId: string | null;
}

export type JobEvent =
  | { kind: 'progress'; job: JobEventSubject; progress: JobProgress }
  | { kind: 'status'; job: JobEventSubject; status: JobStatus; error: JobError | null }
  | { kind: 'handler'; job: JobEventSubject; event: HandlerEvent }
  /**
   * BullMQ: this process found a job stalled (its worker stopped responding) and handed it out
   * again, but a new attempt had already started it, so no status change recorded the stall.
   */
  | { kind: 'stalled'; job: JobEventSubject };

export type JobEventSink = (event: JobEvent) => void;

export type JobLogger = Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
