import type { Static, TSchema } from '../vendor/typebox.ts';
import type { Database } from '../db/database.ts';
import type { JobDefinition } from './job-definition.ts';
import type {
  CancelOutcome,
  EnqueuedJob,
  EnqueueOptions,
  JobLogger,
  JobQueue,
  QueueSettings,
  RunningWorkers,
  WorkerPoolOptions,
} from './job-queue.ts';
import { AttemptControl, Wakeup } from './job-runner.ts';
import { StoredAttemptPool } from './stored-attempt.ts';
import { JobStore } from './job-store.ts';
import { deleteFailedJob, requeueFailedJob } from './failed-jobs.ts';
import type { JobRow } from './jobs.schema.ts';
import type { ClaimedRow } from './job-statements.ts';
import { FINISHED_STATUSES } from './jobs.schema.ts';

/**
 * The queue as rows of the jobs table, for the embedded mode (PGlite) and for PostgreSQL
 * without Redis. Workers claim due rows with `FOR UPDATE SKIP LOCKED`, hold them by a lease
 * renewed by heartbeats, and a job whose lease runs out is re-run by whichever worker notices.
 */
export const JOBS_CHANNEL = 'intake_jobs';

export function createEmbeddedQueue(
  database: Pick<Database, 'db' | 'kind' | 'location' | 'ping'> & Partial<Pick<Database, 'listen'>>,
  settings: QueueSettings,
  log: JobLogger,
): JobQueue {
  const store = new JobStore(database.db, {
    retentionMs: settings.retentionMs,
    onEvent: settings.onJobEvent,
    log,
    clock: settings.clock,
  });
  const pools = new Set<EmbeddedWorkerPool>();

  return {
    kind: 'embedded',
    async enqueue<Payload extends TSchema, Result>(
      definition: JobDefinition<Payload, Result>,
      payload: Static<Payload>,
      options: EnqueueOptions = {},
    ): Promise<EnqueuedJob> {
      // Embedded rows are their own dispatch: workers claim them from the table.
      const { row, created } = await store.enqueue(definition, payload, options, true);
      if (created && !options.tx) for (const pool of pools) pool.notify(definition.queue);
      return { id: row.id, created, status: row.status };
    },
    async cancel(jobId: string): Promise<CancelOutcome> {
      return cancelThroughStore(store, jobId, (id) => {
        for (const pool of pools) pool.abortJob(id);
      });
    },
    async retry(jobId: string) {
      const retried = await requeueFailedJob(database.db, jobId, true, log, settings.onJobEvent);
      if (retried.outcome === 'retried') for (const pool of pools) pool.notify(retried.job.queue);
      return retried;
    },
    discard: (jobId: string) => deleteFailedJob(database.db, jobId),
    async startWorkers(options: WorkerPoolOptions): Promise<RunningWorkers> {
      // NOTIFY from the jobs trigger wakes idle workers in every process at once; polling stays the fallback.
      let unlisten: (() => Promise<void>) | undefined;
      const pool = new EmbeddedWorkerPool(store, settings, options, log, () => {
        pools.delete(pool);
        void unlisten?.().catch((error: unknown) => log.warn({ err: error }, 'could not UNLISTEN after the workers closed'));
      });
      pools.add(pool);
      if (database.listen) {
        try {
          unlisten = await database.listen(JOBS_CHANNEL, (queue) => pool.notify(queue));
        } catch (error) {
          log.warn({ err: error }, 'could not LISTEN for new jobs; workers will poll');
        }
      }
      pool.start();
      return pool;
    },
    sweep: () => store.sweep(),
    readiness: () => [
      { name: 'queue', target: `embedded on ${database.kind} ${database.location}`, check: () => database.ping() },
    ],
    async close() {
      await Promise.all([...pools].map((pool) => pool.close(0)));
    },
  };
}

/** Cancellation as both adapters do it: queued → cancelled now; running → flagged, aborted. */
export async function cancelThroughStore(
  store: JobStore,
  jobId: string,
  abortLocal: (id: string) => void,
  onCancelledQueued: (row: JobRow) => Promise<void> = async () => undefined,
): Promise<CancelOutcome> {
  const queued = await store.cancelQueued(jobId);
  if (queued) {
    await onCancelledQueued(queued);
    return 'cancelled';
  }
  if (await store.requestCancel(jobId)) {
    abortLocal(jobId);
    return 'cancelling';
  }
  const row = await store.get(jobId);
  if (!row) return 'not_found';
  if (FINISHED_STATUSES.includes(row.status)) return 'already_finished';
  // It moved between our two updates (e.g. a retry put it back in the queue): try once more.
  const requeued = await store.cancelQueued(jobId);
  if (requeued) {
    await onCancelledQueued(requeued);
    return 'cancelled';
  }
  return (await store.requestCancel(jobId)) ? 'cancelling' : 'already_finished';
}

class EmbeddedWorkerPool extends StoredAttemptPool implements RunningWorkers {
  private readonly wakeups = new Map<string, Wakeup>();
  private readonly runningPerQueue = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly loops: Promise<void>[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private stopping = false;

  start(): void {
    const queues = this.options.queues ?? this.options.registry.queues();
    for (const queue of queues) {
      this.wakeups.set(queue, new Wakeup());
      this.loops.push(this.loop(queue));
    }
    this.attempts.start();
    this.every(this.settings.stalledCheckMs, async () => {
      // Renew our own leases first: after a handler blocked this event loop past the lease,
      // this check must not take its own, still-running jobs for stalled ones.
      await this.attempts.beat();
      const recovered = await this.store.recoverStalled(this.outcomeHook);
      if (recovered > 0) {
        this.log.warn({ count: recovered }, 'requeued jobs whose worker stopped responding');
        this.notifyAll();
      }
    });
    this.every(this.settings.sweepIntervalMs, async () => {
      const removed = await this.store.sweep();
      if (removed > 0) this.log.info({ count: removed }, 'removed finished jobs past retention');
    });
    // A crash before this boot may have left jobs running with no one behind them.
    this.store.recoverStalled(this.outcomeHook).then(
      (recovered) => {
        if (recovered > 0) this.log.warn({ count: recovered }, 'requeued jobs left running by an earlier process');
      },
      (error: unknown) =>
        this.log.warn({ err: error }, 'could not recover stalled jobs at start-up; the periodic check tries again'),
    );
  }

  stopClaiming(): void {
    this.stopping = true;
    this.notifyAll();
  }

  notify(queue: string): void {
    this.wakeups.get(queue)?.notify();
  }

  private notifyAll(): void {
    for (const wakeup of this.wakeups.values()) wakeup.notify();
  }

  private every(ms: number, task: () => Promise<void>): void {
    const timer = setInterval(() => {
      task().catch((error: unknown) => this.log.warn({ err: error }, 'job maintenance task failed'));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private async loop(queue: string): Promise<void> {
    const slots = this.settings.concurrency[queue] ?? this.settings.defaultConcurrency;
    const types = this.options.registry.typesFor(queue);
    const wakeup = this.wakeups.get(queue) ?? new Wakeup();
    while (!this.stopping) {
      const free = slots - (this.runningPerQueue.get(queue) ?? 0);
      if (free > 0) {
        let claimed: ClaimedRow[] = [];
        try {
          claimed = await this.store.claim(queue, types, free, this.workerId, this.settings.leaseMs);
        } catch (error) {
          if (!this.stopping) this.log.warn({ err: error, queue }, 'could not claim jobs');
        }
        if (this.stopping) {
          // Claimed as we were told to stop: give them straight back.
          await Promise.all(claimed.map((row) => this.store.finish(row.id, row.leaseToken ?? '', { status: 'released' })));
          break;
        }
        for (const row of claimed) this.launch(queue, row);
        if (claimed.length > 0 && claimed.length === free) continue;
      }
      await wakeup.wait(this.settings.pollIntervalMs);
    }
  }

  private launch(queue: string, row: ClaimedRow): void {
    const leaseToken = row.leaseToken;
    if (!leaseToken) return;
    this.runningPerQueue.set(queue, (this.runningPerQueue.get(queue) ?? 0) + 1);
    const task = this.runAttempt(row, leaseToken, new AttemptControl())
      .catch((error: unknown) => this.log.error({ err: error, job_id: row.id }, 'could not record the end of a job attempt'))
      .then(() => undefined)
      .finally(() => {
        this.runningPerQueue.set(queue, (this.runningPerQueue.get(queue) ?? 1) - 1);
        this.inFlight.delete(task);
        this.notify(queue);
      });
    this.inFlight.add(task);
  }

  close(graceMs = this.settings.shutdownGraceMs): Promise<void> {
    this.closing ??= (async () => {
      this.stopping = true;
      this.notifyAll();
      await Promise.all(this.loops);
      if (this.inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        });
        await Promise.race([Promise.all(this.inFlight), grace]);
        clearTimeout(timer);
        // Still running after the grace: abort them and hand them back for another worker.
        this.attempts.abortAll('shutdown');
        await Promise.all(this.inFlight);
      }
      this.attempts.stop();
      for (const timer of this.timers) clearInterval(timer);
      this.onClosed();
    })();
    return this.closing;
  }
}
