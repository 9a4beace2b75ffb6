import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { inlineExecutor, type JobExecutor } from './job-executor.ts';
import type { JobLogger, QueueSettings, WorkerPoolOptions } from './job-queue.ts';
import type { JobRegistry } from './job-registry.ts';
import { ActiveAttempts, runAttempt, type AttemptControl } from './job-runner.ts';
import type { AttemptRecord, JobStore, OutcomeHook } from './job-store.ts';
import type { ClaimedRow } from './job-statements.ts';

/** What a worker pool holds for running the rows it claimed, whichever queue handed them out. */
export interface AttemptContext {
  registry: JobRegistry;
  executor: JobExecutor;
  store: JobStore;
  attempts: ActiveAttempts;
  log: JobLogger;
  outcomeHook: OutcomeHook | undefined;
}

/**
 * One attempt of a claimed job row under its lease, its end recorded in the jobs table. Both
 * adapters run their attempts here, so that they heartbeat, record and log alike. Answers null
 * when the lease was lost (another worker took the row over): nothing is recorded then.
 */
export async function runStoredAttempt(
  context: AttemptContext,
  row: ClaimedRow,
  leaseToken: string,
  control: AttemptControl,
): Promise<AttemptRecord | null> {
  const { store, attempts, log } = context;
  attempts.add(leaseToken, row.id, control);
  let record: AttemptRecord;
  try {
    record = await runAttempt({
      registered: context.registry.get(row.type),
      job: {
        id: row.id,
        type: row.type,
        attempt: row.attempts,
        maxAttempts: row.maxAttempts,
        ownerId: row.ownerId,
        fileId: row.fileId,
        payload: row.payload,
      },
      control,
      executor: context.executor,
      log,
      writeProgress: (progress) => store.progress(row.id, leaseToken, progress),
      emit: (event) => store.handlerEvent(row, event),
    });
  } finally {
    attempts.remove(leaseToken);
  }
  if (control.reason === 'lost') return null;
  const written = await store.finish(row.id, leaseToken, record, context.outcomeHook, row);
  log.debug({ job_id: row.id, type: row.type, attempt: row.attempts, outcome: record.status, written }, 'job attempt ended');
  return record;
}

/** A worker's id when none is configured: host and process, so logs and `/metrics` say who. */
export function defaultWorkerId(): string {
  return `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/**
 * What both adapters' worker pools share: who they are, the attempts they hold leases for, and
 * how an attempt of a claimed row runs and is recorded. Each adapter adds how rows reach it.
 */
export abstract class StoredAttemptPool {
  readonly workerId: string;
  protected readonly attempts: ActiveAttempts;
  protected readonly outcomeHook: OutcomeHook | undefined;
  protected closing: Promise<void> | undefined;
  private readonly attemptContext: AttemptContext;

  constructor(
    protected readonly store: JobStore,
    protected readonly settings: QueueSettings,
    protected readonly options: WorkerPoolOptions,
    protected readonly log: JobLogger,
    protected readonly onClosed: () => void,
  ) {
    this.workerId = options.workerId ?? defaultWorkerId();
    this.attempts = new ActiveAttempts(store, settings.leaseMs, settings.heartbeatMs, log);
    this.outcomeHook = options.onFinished ? { listener: options.onFinished, log } : undefined;
    this.attemptContext = {
      registry: options.registry,
      executor: options.executor ?? inlineExecutor,
      store,
      attempts: this.attempts,
      log,
      outcomeHook: this.outcomeHook,
    };
  }

  abortJob(jobId: string): void {
    this.attempts.abortJob(jobId, 'cancel');
  }

  protected runAttempt(row: ClaimedRow, leaseToken: string, control: AttemptControl): Promise<AttemptRecord | null> {
    return runStoredAttempt(this.attemptContext, row, leaseToken, control);
  }
}
