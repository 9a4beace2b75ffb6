import { randomUUID } from 'node:crypto';
import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Static, TSchema } from '../vendor/typebox.ts';
import type { Database } from '../db/database.ts';
import { redactUrl } from '../config/config-spec.ts';
import type { JobDefinition } from './job-definition.ts';
import type {
  CancelOutcome,
  DiscardOutcome,
  RetryOutcome,
  EnqueuedJob,
  EnqueueOptions,
  JobLogger,
  JobQueue,
  QueueSettings,
  RunningWorkers,
  WorkerPoolOptions,
} from './job-queue.ts';
import { AttemptControl } from './job-runner.ts';
import { StoredAttemptPool } from './stored-attempt.ts';
import { JobStore } from './job-store.ts';
import { Coalescer } from './coalescer.ts';
import type { JobRow } from './jobs.schema.ts';
import type { EnqueuedRow } from './job-statements.ts';
import { cancelThroughStore } from './embedded-queue.ts';
import { bullAttemptStillActive, removeFinishedBullJob } from './bullmq-failed-jobs.ts';
import { deleteFailedJob, FAILED_STATUSES, requeueFailedJob } from './failed-jobs.ts';

export interface BullmqQueueOptions {
  redisUrl: string;
  /** Key prefix in Redis; distinct prefixes keep deployments (and test files) apart on one server. */
  prefix: string;
  /** Stalls (lock expired) BullMQ tolerates before failing a job. */
  maxStalledCount: number;
  /** How often rows enqueued inside a transaction are looked for and handed to Redis. */
  relayIntervalMs: number;
}

/** What BullMQ keeps in Redis: only the id. The payload and the state live in the jobs table. */
type BullData = Record<string, never>;

/** A transient failure, carrying the delay our retry policy chose for BullMQ's backoff strategy. */
class RetryLater extends Error {
  constructor(
    message: string,
    readonly retryDelayMs: number,
  ) {
    super(message);
    this.name = 'RetryLater';
  }
}

/**
 * The queue on BullMQ, for the scaled mode. Redis dispatches job ids, locks attempts and
 * detects stalled workers; the jobs table stays the record the API reads, kept current by
 * the workers (status, attempts, progress, result, error).
 */
export function createBullmqQueue(
  database: Pick<Database, 'db' | 'ping'>,
  settings: QueueSettings,
  options: BullmqQueueOptions,
  log: JobLogger,
): JobQueue {
  const store = new JobStore(database.db, {
    retentionMs: settings.retentionMs,
    onEvent: settings.onJobEvent,
    log,
    clock: settings.clock,
  });
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', (error) => log.warn({ err: error }, 'redis connection error'));
  const queues = new Map<string, Queue<BullData>>();
  const pools = new Set<BullmqWorkerPool>();

  function queueFor(name: string): Queue<BullData> {
    let queue = queues.get(name);
    if (!queue) {
      queue = new Queue<BullData>(name, { connection, prefix: options.prefix });
      queue.on('error', (error) => log.warn({ err: error, queue: name }, 'bullmq queue error'));
      queues.set(name, queue);
    }
    return queue;
  }

  async function dispatch(rows: readonly Pick<JobRow, 'id' | 'queue' | 'type' | 'maxAttempts' | 'runAt'>[]): Promise<void> {
    const retentionSeconds = Math.ceil(settings.retentionMs / 1000);
    const byQueue = new Map<string, (typeof rows)[number][]>();
    for (const row of rows) byQueue.set(row.queue, [...(byQueue.get(row.queue) ?? []), row]);
    for (const [name, queued] of byQueue) {
      // The job id is the row id, so a second dispatch of the same row (relay and direct path
      // racing, a retry after a crash) is ignored by BullMQ. One round trip per queue.
      await queueFor(name).addBulk(
        queued.map((row) => ({
          name: row.type,
          data: {},
          opts: {
            jobId: row.id,
            attempts: row.maxAttempts,
            backoff: { type: 'intake' },
            delay: Math.max(0, row.runAt.getTime() - Date.now()),
            removeOnComplete: { age: retentionSeconds },
            removeOnFail: { age: retentionSeconds },
          },
        })),
      );
    }
    await store.markDispatched(rows.map((row) => row.id));
  }
  // Concurrent enqueues hand their rows to Redis together (one addBulk, one UPDATE).
  const dispatcher = new Coalescer((batches: EnqueuedRow[][]) =>
    dispatch(batches.flat()).then(() => batches.map(() => undefined)),
  );

  let relaying = false;
  async function relay(): Promise<void> {
    if (relaying) return;
    relaying = true;
    try {
      for (;;) {
        const rows = await store.undispatched(100);
        if (rows.length === 0) break;
        await dispatch(rows);
        if (rows.length < 100) break;
      }
    } catch (error) {
      log.warn({ err: error }, 'could not hand queued jobs to redis');
    } finally {
      relaying = false;
    }
  }
  const relayTimer = setInterval(() => void relay(), options.relayIntervalMs);
  relayTimer.unref();

  return {
    kind: 'bullmq',
    async enqueue<Payload extends TSchema, Result>(
      definition: JobDefinition<Payload, Result>,
      payload: Static<Payload>,
      enqueueOptions: EnqueueOptions = {},
    ): Promise<EnqueuedJob> {
      const { row, created } = await store.enqueue(definition, payload, enqueueOptions, false);
      // Inside a transaction the row is invisible until commit; the relay dispatches it then.
      if (created && !enqueueOptions.tx) await dispatcher.submit([row]);
      return { id: row.id, created, status: row.status };
    },
    async cancel(jobId: string): Promise<CancelOutcome> {
      return cancelThroughStore(
        store,
        jobId,
        (id) => {
          for (const pool of pools) pool.abortJob(id);
        },
        async (row) => {
          // Best effort: a job Redis has already handed out finds its row cancelled and skips.
          await queueFor(row.queue)
            .remove(row.id)
            .catch((error: unknown) => {
              log.warn({ err: error, job_id: row.id }, 'could not remove a cancelled job from redis; its worker will skip it');
              return 0;
            });
        },
      );
    },
    // The row's conditional update picks one winner among concurrent calls; only the winner
    // touches Redis, so a loser can never remove the job the winner has just dispatched.
    async retry(jobId: string): Promise<RetryOutcome> {
      const row = await store.get(jobId);
      if (!row) return { outcome: 'not_found' };
      if (!FAILED_STATUSES.includes(row.status)) return { outcome: 'not_failed', status: row.status };
      if (await bullAttemptStillActive(queueFor(row.queue), row.id)) return { outcome: 'busy' };
      const retried = await requeueFailedJob(database.db, jobId, false, log, settings.onJobEvent);
      if (retried.outcome !== 'retried') return retried;
      try {
        await removeFinishedBullJob(queueFor(row.queue), row.id);
        await dispatch([retried.job]);
      } catch (error) {
        // The relay hands the row to Redis later: the retry is recorded either way.
        log.warn({ err: error, job_id: jobId }, 'could not hand a retried job to redis yet');
      }
      return retried;
    },
    async discard(jobId: string): Promise<DiscardOutcome> {
      const row = await store.get(jobId);
      if (!row) return { outcome: 'not_found' };
      if (!FAILED_STATUSES.includes(row.status)) return { outcome: 'not_failed', status: row.status };
      if (await bullAttemptStillActive(queueFor(row.queue), row.id)) return { outcome: 'busy' };
      const discarded = await deleteFailedJob(database.db, jobId);
      if (discarded.outcome === 'discarded') {
        // Left behind, it would only expire with BullMQ's own retention.
        await removeFinishedBullJob(queueFor(row.queue), row.id).catch((error: unknown) =>
          log.warn({ err: error, job_id: jobId }, 'could not remove a discarded job from redis'),
        );
      }
      return discarded;
    },
    async startWorkers(workerOptions: WorkerPoolOptions): Promise<RunningWorkers> {
      const jobState = (queue: string, jobId: string) => queueFor(queue).getJobState(jobId);
      const pool = new BullmqWorkerPool(store, settings, options, workerOptions, log, jobState, () => pools.delete(pool));
      pools.add(pool);
      await pool.start();
      return pool;
    },
    sweep: () => store.sweep(),
    readiness: () => [
      {
        name: 'queue',
        target: `bullmq on ${redactUrl(options.redisUrl)}`,
        check: async () => {
          await connection.ping();
        },
      },
    ],
    async close() {
      clearInterval(relayTimer);
      await Promise.all([...pools].map((pool) => pool.close(0)));
      await Promise.all([...queues.values()].map((queue) => queue.close()));
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

class BullmqWorkerPool extends StoredAttemptPool implements RunningWorkers {
  private readonly workers: Worker<BullData>[] = [];
  private readonly connections: Redis[] = [];
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    store: JobStore,
    settings: QueueSettings,
    private readonly bullOptions: BullmqQueueOptions,
    options: WorkerPoolOptions,
    log: JobLogger,
    /** Where BullMQ holds a job now ('failed', 'wait', …). */
    private readonly jobState: (queue: string, jobId: string) => Promise<string>,
    onClosed: () => void,
  ) {
    super(store, settings, options, log, onClosed);
  }

  async start(): Promise<void> {
    const queues = this.options.queues ?? this.options.registry.queues();
    for (const name of queues) {
      const connection = new Redis(this.bullOptions.redisUrl, { maxRetriesPerRequest: null });
      connection.on('error', (error) => this.log.warn({ err: error }, 'redis connection error'));
      this.connections.push(connection);
      const worker = new Worker<BullData>(name, (job, token, signal) => this.process(job, token, signal), {
        connection,
        prefix: this.bullOptions.prefix,
        concurrency: this.settings.concurrency[name] ?? this.settings.defaultConcurrency,
        lockDuration: this.settings.leaseMs,
        stalledInterval: this.settings.stalledCheckMs,
        maxStalledCount: this.bullOptions.maxStalledCount,
        settings: {
          backoffStrategy: (_attemptsMade: number, _type?: string, error?: Error) =>
            error instanceof RetryLater ? error.retryDelayMs : 1_000,
        },
      });
      worker.on('error', (error) => this.log.warn({ err: error, queue: name }, 'bullmq worker error'));
      // A stalled job either goes back to the wait list (our processor runs it again) or, past
      // maxStalledCount, is failed by BullMQ itself, bypassing our processor: record that.
      worker.on('stalled', (jobId: string) => void this.recordStalled(name, jobId));
      this.workers.push(worker);
    }
    await Promise.all(this.workers.map((worker) => worker.waitUntilReady()));
    this.attempts.start();
    const sweep = setInterval(() => {
      this.store.sweep().catch((error: unknown) => this.log.warn({ err: error }, 'job retention sweep failed'));
    }, this.settings.sweepIntervalMs);
    sweep.unref();
    this.timers.push(sweep);
  }

  private async recordStalled(queue: string, jobId: string): Promise<void> {
    try {
      if ((await this.jobState(queue, jobId)) !== 'failed') {
        // Either way the attempt log says "recovered a stalled job" and the stalled counter counts it:
        // from the row's status event, or, when a new attempt already holds the row (BullMQ handed
        // the job out before this ran), from a `stalled` event of its own.
        if (!(await this.store.requeueStalled(jobId))) await this.store.stalledTakenOver(jobId);
        return;
      }
      await this.store.failStalled(jobId, this.outcomeHook);
      this.log.warn({ job_id: jobId, queue }, 'bullmq failed a job that stalled too often; recorded as failed');
    } catch (error) {
      // The row may stay `running` until an operator looks: say so loudly, with the job id.
      this.log.error({ err: error, job_id: jobId, queue }, 'could not record a job bullmq failed after stalling');
    }
  }

  private async process(job: Job<BullData>, token: string | undefined, signal: AbortSignal | undefined): Promise<unknown> {
    const jobId = job.id;
    if (!jobId) throw new UnrecoverableError('job without id');
    const leaseToken = randomUUID();
    const row = await this.store.start(jobId, job.attemptsMade + 1, leaseToken, this.workerId, this.settings.leaseMs);
    // Cancelled (or expired and deleted) before Redis handed it out: nothing to run.
    if (!row) return null;
    const control = new AttemptControl();
    signal?.addEventListener('abort', () => control.abort('cancel'), { once: true });
    const record = await this.runAttempt(row, leaseToken, control);
    if (!record) throw new UnrecoverableError('the job row was taken over or removed');
    switch (record.status) {
      case 'succeeded':
        return record.result;
      case 'retry':
        throw new RetryLater(record.error.message, record.delayMs);
      case 'released':
        // Shutting down: back to the wait list, no attempt counted, for another worker.
        if (token) await job.moveToWait(token);
        throw new WaitingError();
      default:
        throw new UnrecoverableError(record.error.message);
    }
  }

  stopClaiming(): void {
    // `pause(true)` flags the worker before its first await: no fetch after this line.
    for (const worker of this.workers)
      worker.pause(true).catch((error: unknown) => this.log.warn({ err: error }, 'could not pause a bullmq worker'));
  }

  close(graceMs = this.settings.shutdownGraceMs): Promise<void> {
    this.closing ??= (async () => {
      // `close()` stops fetching at once and resolves when the active jobs are done.
      const closed = Promise.all(this.workers.map((worker) => worker.close()));
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'grace'>((resolve) => {
        timer = setTimeout(() => resolve('grace'), graceMs);
      });
      if ((await Promise.race([closed, grace])) === 'grace') {
        this.attempts.abortAll('shutdown');
        await closed;
      }
      clearTimeout(timer);
      this.attempts.stop();
      for (const interval of this.timers) clearInterval(interval);
      await Promise.all(this.connections.map((connection) => connection.quit().catch(() => connection.disconnect())));
      this.onClosed();
    })();
    return this.closing;
  }
}
