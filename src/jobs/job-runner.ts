import { backoffDelayMs, isPermanentJobError, type JobContext, type RegisteredJob } from './job-catalog.ts';
import type { AttemptRecord, JobStore } from './job-store.ts';
import type { JobErrorInfo, JobProgress } from './jobs.schema.ts';
import type { HandlerEvent, JobLogger } from './job-queue.ts';

/** Runs a handler: in this thread, or elsewhere (a worker thread) behind the same signature. */
export interface JobExecutor {
  execute(job: RegisteredJob, payload: unknown, context: JobContext): Promise<unknown>;
  /**
   * Resolves once handlers can run. Workers wait for it before claiming, so that a job's time
   * limits never count a thread's start-up (loading the parsers takes seconds on a busy machine).
   */
  ready?(): Promise<void>;
  close(): Promise<void>;
}

export const inlineExecutor: JobExecutor = {
  execute: (job, payload, context) => job.handler(payload, context),
  close: async () => undefined,
};

/** Why an attempt's signal fired. `shutdown` and `lost` abandon the attempt without waiting. */
export type StopReason = 'cancel' | 'soft_timeout' | 'shutdown' | 'lost';

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
      const error = new Error(`job ${reason === 'soft_timeout' ? 'reached its soft time limit' : reason === 'cancel' ? 'was cancelled' : 'was interrupted'}`);
      error.name = reason === 'soft_timeout' ? 'TimeoutError' : 'AbortError';
      this.controller.abort(error);
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
  writeProgress(progress: JobProgress): Promise<void>;
  emit(event: HandlerEvent): void;
}

/**
 * One attempt with the semantics both adapters share: payload check, soft limit (signal),
 * hard limit (stop waiting), cancellation, and the permanent/transient split deciding retries.
 */
export async function runAttempt(input: AttemptInput): Promise<AttemptRecord> {
  const { registered, job, control } = input;
  if (!registered) return failed('no_handler', `no handler is registered for job type ${job.type}`);
  const problem = registered.validate(job.payload);
  if (problem !== undefined) return failed('invalid_payload', `payload does not match ${job.type}: ${problem}`);

  const { definition } = registered;
  const context: JobContext = {
    jobId: job.id,
    type: job.type,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    ownerId: job.ownerId,
    fileId: job.fileId,
    signal: control.signal,
    progress: (update) =>
      input.writeProgress({ current: update.current, total: update.total ?? null, message: update.message ?? null }),
    emit: (event) => input.emit(event),
  };

  const softTimer = setTimeout(() => control.abort('soft_timeout'), definition.softTimeLimitMs);
  let hardTimer: NodeJS.Timeout | undefined;
  const hardLimit = new Promise<'hard_limit'>((resolve) => {
    hardTimer = setTimeout(() => resolve('hard_limit'), definition.hardTimeLimitMs);
  });
  const work = Promise.resolve()
    .then(() => input.executor.execute(registered, job.payload, context))
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
      return { status: 'timed_out', error: { kind: 'timed_out', message: `exceeded the hard time limit of ${definition.hardTimeLimitMs} ms` } };
    }
    if (control.reason === 'soft_timeout') {
      return { status: 'timed_out', error: { kind: 'timed_out', message: `exceeded the soft time limit of ${definition.softTimeLimitMs} ms` } };
    }
    if (control.reason === 'cancel') return { status: 'cancelled', error: { kind: 'cancelled', message: 'cancelled while running' } };
    if (settled.ok) return { status: 'succeeded', result: settled.result ?? null };
    const error = settled.error;
    if (isPermanentJobError(error)) {
      return { status: 'failed', error: { kind: 'permanent', message: error.message, ...detailsOf(error) } };
    }
    const info: JobErrorInfo = { kind: 'transient', message: messageOf(error) };
    if (job.attempt < job.maxAttempts) return { status: 'retry', error: info, delayMs: backoffDelayMs(definition.retry, job.attempt) };
    return { status: 'failed', error: info };
  } finally {
    clearTimeout(softTimer);
    clearTimeout(hardTimer);
  }
}

function failed(kind: string, message: string): AttemptRecord {
  return { status: 'failed', error: { kind, message } };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function detailsOf(error: unknown): { details?: unknown } {
  const details = (error as { details?: unknown }).details;
  return details === undefined ? {} : { details };
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
