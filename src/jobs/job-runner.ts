import {
  backoffDelayMs,
  JobInterruptedError,
  traceCarrierOf,
  withoutTraceCarrier,
  type HandlerEvent,
  type JobContext,
  type StopReason,
} from './job-definition.ts';
import { classifyFailure, jobError, loggableError } from './job-error.ts';
import type { JobExecutor } from './job-executor.ts';
import type { RegisteredJob } from './job-registry.ts';
import type { AttemptRecord, JobStore } from './job-store.ts';
import type { JobProgress } from './jobs.schema.ts';
import type { JobLogger } from './job-queue.ts';

export class AttemptControl {
  private readonly controller = new AbortController();
  reason: StopReason | undefined;
  private abandon!: () => void;
  /** Resolves when the worker stops waiting for the handler (shutdown after the grace, lease lost). */
  readonly abandoned = new Promise<'abandoned'>((resolve) => {
    this.abandon = () => resolve('abandoned');
  });

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(reason: StopReason): void {
    if (this.reason === undefined) {
      this.reason = reason;
      this.controller.abort(new JobInterruptedError(reason));
    }
    if (reason === 'shutdown' || reason === 'lost') this.abandon();
  }
}

export interface AttemptInput {
  registered: RegisteredJob | undefined;
  job: {
    id: string;
    type: string;
    attempt: number;
    maxAttempts: number;
    ownerId: string | null;
    fileId: string | null;
    payload: unknown;
  };
  control: AttemptControl;
  executor: JobExecutor;
  /** Where a failure's internals go (the stored error only says what its owner may read). */
  log: JobLogger;
  writeProgress(progress: JobProgress): Promise<void>;
  emit(event: HandlerEvent): void;
}

/**
 * One attempt with the semantics both adapters share: payload check, soft limit (signal),
 * hard limit (stop waiting), cancellation, and the permanent/transient split deciding retries.
 */
export async function runAttempt(input: AttemptInput): Promise<AttemptRecord> {
  const { registered, job, control } = input;
  if (!registered) return { status: 'failed', error: jobError('no_handler', `No worker can run jobs of type ${job.type}.`) };
  const problem = registered.validate(job.payload);
  if (problem !== undefined)
    return { status: 'failed', error: jobError('invalid_payload', `The job's payload does not match ${job.type}: ${problem}`) };

  const { definition } = registered;
  const traceparent = traceCarrierOf(job.payload)?.traceparent;
  const payload = withoutTraceCarrier(job.payload);
  const context: JobContext = {
    jobId: job.id,
    type: job.type,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    ownerId: job.ownerId,
    fileId: job.fileId,
    ...(traceparent ? { traceparent } : {}),
    signal: control.signal,
    progress: (update) =>
      input.writeProgress({ current: update.current, total: update.total ?? null, message: update.message ?? null }),
    emit: (event) => input.emit(event),
  };

  // The time limits count the job's own run, not the start of the threads its handler runs on.
  // A start that fails is left for `execute` to report as the attempt's failure.
  if (input.executor.start) {
    const started = input.executor.start().then(
      () => 'started' as const,
      () => 'started' as const,
    );
    if ((await Promise.race([started, control.abandoned])) === 'abandoned') return { status: 'released' };
  }
  const softTimer = setTimeout(() => control.abort('soft_timeout'), definition.softTimeLimitMs);
  let hardTimer: NodeJS.Timeout | undefined;
  const hardLimit = new Promise<'hard_limit'>((resolve) => {
    hardTimer = setTimeout(() => resolve('hard_limit'), definition.hardTimeLimitMs);
  });
  const work = Promise.resolve()
    .then(() => input.executor.execute(registered, payload, context))
    .then(
      (result) => ({ ok: true as const, result }),
      (error: unknown) => ({ ok: false as const, error }),
    );
  try {
    const settled = await Promise.race([work, hardLimit, control.abandoned]);
    if (settled === 'abandoned') return { status: 'released' };
    if (settled === 'hard_limit') {
      // The task ignored its signal: the worker gives up on it so the slot serves other jobs.
      control.abort('soft_timeout');
      return {
        status: 'timed_out',
        error: jobError('timed_out', `Exceeded the hard time limit of ${definition.hardTimeLimitMs} ms.`),
      };
    }
    if (control.reason === 'soft_timeout') {
      return {
        status: 'timed_out',
        error: jobError('timed_out', `Exceeded the soft time limit of ${definition.softTimeLimitMs} ms.`),
      };
    }
    if (control.reason === 'cancel') return { status: 'cancelled', error: jobError('cancelled', 'Cancelled while running.') };
    if (settled.ok) return { status: 'succeeded', result: settled.result ?? null };
    const { permanent, error } = classifyFailure(settled.error);
    const retry = !permanent && job.attempt < job.maxAttempts;
    // The whole story (SQL, parameters, stack) goes to the log under the job id, never to the row.
    input.log.warn(
      {
        job_id: job.id,
        type: job.type,
        attempt: job.attempt,
        max_attempts: job.maxAttempts,
        code: error.code,
        retry,
        err: loggableError(settled.error),
      },
      'job attempt failed',
    );
    if (retry) {
      const message = `Attempt ${job.attempt} of ${job.maxAttempts} failed on an internal error; it will be retried.`;
      return { status: 'retry', error: jobError(error.code, message), delayMs: backoffDelayMs(definition.retry, job.attempt) };
    }
    if (!permanent && job.maxAttempts > 1) {
      return {
        status: 'failed',
        error: jobError(
          error.code,
          `The job failed on an internal error after ${job.attempt} attempts; the details are logged under its id.`,
        ),
      };
    }
    return { status: 'failed', error };
  } finally {
    clearTimeout(softTimer);
    clearTimeout(hardTimer);
  }
}

/**
 * The attempts running in one worker process. A timer renews their leases; the answer tells
 * which were cancelled through the API (abort them) and which were lost (abandon them).
 */
export class ActiveAttempts {
  private readonly active = new Map<string, { jobId: string; control: AttemptControl }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: JobStore,
    private readonly leaseMs: number,
    private readonly heartbeatMs: number,
    private readonly log: JobLogger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.beat(), this.heartbeatMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  add(leaseToken: string, jobId: string, control: AttemptControl): void {
    this.active.set(leaseToken, { jobId, control });
  }

  remove(leaseToken: string): void {
    this.active.delete(leaseToken);
  }

  get size(): number {
    return this.active.size;
  }

  /** Aborts a job running here, without waiting for the next heartbeat. */
  abortJob(jobId: string, reason: StopReason): boolean {
    let found = false;
    for (const entry of this.active.values()) {
      if (entry.jobId === jobId) {
        entry.control.abort(reason);
        found = true;
      }
    }
    return found;
  }

  abortAll(reason: StopReason): void {
    for (const entry of this.active.values()) entry.control.abort(reason);
  }

  async beat(): Promise<void> {
    const tokens = [...this.active.keys()];
    if (tokens.length === 0) return;
    try {
      const { held, cancelRequested } = await this.store.heartbeat(tokens, this.leaseMs);
      for (const token of tokens) {
        const entry = this.active.get(token);
        if (!entry) continue; // finished while the heartbeat was in flight
        if (!held.has(token)) {
          this.log.warn({ job_id: entry.jobId }, 'lease lost: another worker may run this job; abandoning the attempt');
          entry.control.abort('lost');
        } else if (cancelRequested.has(token)) {
          entry.control.abort('cancel');
        }
      }
    } catch (error) {
      // The lease has slack (heartbeat ≪ lease); one failed beat is not yet a lost lease.
      this.log.warn({ err: error }, 'job heartbeat failed');
    }
  }
}

/** A wake-up call with a timeout, for idle worker loops. */
export class Wakeup {
  private waiters: (() => void)[] = [];

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const waiters = this.waiters;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      waiters.push(done);
    });
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
