import pino, { type LoggerOptions } from 'pino';
import type { Config } from './config/config.ts';
import { openDatabase, type Database } from './db/database.ts';
import type { JobRegistry } from './jobs/job-catalog.ts';
import { createJobRegistry } from './jobs/job-handlers.ts';
import type { JobLogger, JobOutcomeListener, JobQueue, RunningWorkers } from './jobs/job-queue.ts';
import { createJobOutcomeNotifier } from './notifications/job-outcome-notifier.ts';
import { createJobQueue } from './jobs/job-queue-factory.ts';
import { inlineExecutor, type JobExecutor } from './jobs/job-runner.ts';
import { createThreadExecutor, siblingModule } from './jobs/thread-executor.ts';
import { loggerOptions } from './logging/logger.ts';
import type { EventBus } from './events/event-bus.ts';
import { createEventBus } from './events/create-event-bus.ts';
import { jobEventPublisher } from './events/job-event-relay.ts';
import type { BlobStore } from './storage/blob-store.ts';
import { createBlobStore, openOnce } from './storage/create-blob-store.ts';
import { jobMetricsSinkFor } from './app.ts';
import { QUEUE_NAMES } from './jobs/job-catalog.ts';
import { registerDatabaseGauges } from './metrics/database-gauges.ts';
import { allOf } from './metrics/job-metrics.ts';
import { IntakeMetrics } from './metrics/metrics.ts';
import { announcePresence } from './jobs/worker-presence.ts';
import { jobAttemptLog } from './jobs/job-attempt-log.ts';

/** What a worker runs on. A test (or `intake serve`, sharing its own) passes some; the rest come from config. */
export interface WorkerDependencies {
  database: Database;
  jobQueue: JobQueue;
  registry: JobRegistry;
  executor: JobExecutor;
  log: JobLogger;
  blobStore: BlobStore;
  /** Told of each job's final outcome (default: webhook events and e-mails). */
  onFinished: JobOutcomeListener;
  /** Where job progress and status changes are published (used when the queue is built here). */
  eventBus: EventBus;
  /** Counts the jobs of a queue built here; `intake worker` serves them on METRICS_PORT. */
  metrics: IntakeMetrics;
}

export interface WorkerOptions {
  /** Run handlers in this many worker threads (0: in this thread). */
  threads?: number;
  /** Serve only these queues (default: every queue a registered job type uses). */
  queues?: readonly string[];
}

export interface WorkerRuntime {
  readonly workers: RunningWorkers;
  readonly log: JobLogger;
  readonly metrics: IntakeMetrics;
  /** Finishes or hands back running jobs (after `graceMs`, default JOBS_SHUTDOWN_GRACE_MS), then closes what it built. */
  close(graceMs?: number): Promise<void>;
}

/** The composition root of a worker: the counterpart of `buildApp` for `intake worker`. */
export async function buildWorker(
  config: Config,
  overrides: Partial<WorkerDependencies> = {},
  options: WorkerOptions = {},
): Promise<WorkerRuntime> {
  const owned: { close(): Promise<void> }[] = [];
  const log = overrides.log ?? pino({ ...(loggerOptions(config) as LoggerOptions), name: 'worker' });
  try {
    const database = overrides.database ?? (await openDatabase({ ...config.database, dataDir: config.dataDir }));
    if (!overrides.database) {
      owned.unshift(database);
      if (config.database.migrateOnBoot) await database.migrate();
    }
    const metrics = overrides.metrics ?? new IntakeMetrics();
    // Known once the workers start; attempt log lines name it.
    const started: { workerId?: string } = {};
    if (!overrides.metrics) registerDatabaseGauges(metrics, database, { queues: QUEUE_NAMES, leaseMs: config.jobs.leaseMs });
    let jobQueue = overrides.jobQueue;
    if (!jobQueue) {
      let eventBus = overrides.eventBus;
      if (!eventBus) {
        eventBus = createEventBus(config, log);
        // Closed after the queue (which publishes through it) and before the database.
        owned.unshift(eventBus);
      }
      jobQueue = createJobQueue(
        config.jobs,
        database,
        log,
        allOf(jobEventPublisher(eventBus, log), jobMetricsSinkFor(config, metrics), jobAttemptLog(log, () => started.workerId)),
      );
      owned.unshift(jobQueue);
    }
    let blobStore: BlobStore | undefined = overrides.blobStore;
    const blobs = openOnce(async () => {
      if (!blobStore) {
        blobStore = await createBlobStore(config.storage);
        owned.push(blobStore);
      }
      return blobStore;
    });
    const registry = overrides.registry ?? createJobRegistry({ db: database.db, config, blobs });
    const known = new Set(registry.queues());
    const unknown = (options.queues ?? []).filter((name) => !known.has(name));
    if (unknown.length > 0) throw new Error(`no job type uses the queue(s) ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
    let executor = overrides.executor ?? inlineExecutor;
    if (!overrides.executor && (options.threads ?? 0) > 0) {
      executor = createThreadExecutor({
        threads: options.threads ?? 1,
        registryModule: siblingModule('./jobs/job-handlers.ts', import.meta.url),
        config,
        database,
        log,
      });
      owned.unshift(executor);
    }
    await executor.ready?.();
    const onFinished = overrides.onFinished ?? createJobOutcomeNotifier(config, jobQueue);
    const workers = await jobQueue.startWorkers({
      registry,
      executor,
      onFinished,
      ...(options.queues?.length ? { queues: options.queues } : {}),
    });
    started.workerId = workers.workerId;
    const servedQueues = options.queues?.length ? options.queues : registry.queues();
    // Seen by the API (metrics, the starved-queue warning) whether or not it is running anything.
    const presence = await announcePresence(
      database.db,
      { workerId: workers.workerId, queues: servedQueues, heartbeatMs: config.jobs.heartbeatMs, leaseMs: config.jobs.leaseMs },
      log,
    ).catch(async (error: unknown) => {
      await workers.close(0);
      throw error;
    });
    log.info(
      {
        worker_id: workers.workerId,
        queue: jobQueue.kind,
        queues: options.queues?.length ? options.queues : registry.queues(),
        job_types: registry.names(),
        threads: options.threads ?? 0,
      },
      'worker started',
    );
    let closing: Promise<void> | undefined;
    return {
      workers,
      log,
      metrics,
      close(graceMs = config.jobs.shutdownGraceMs) {
        closing ??= (async () => {
          await presence.leave().catch((error: unknown) => log.warn({ err: error }, 'could not remove the worker presence row; it expires after a lease'));
          await workers.close(graceMs);
          for (const dependency of owned) await dependency.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const dependency of owned) await dependency.close().catch(() => undefined);
    throw error;
  }
}
