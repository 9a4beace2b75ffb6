import pino, { type LoggerOptions } from 'pino';
import { buildInfrastructure, type Infrastructure, type InfrastructureOverrides } from './composition/infrastructure.ts';
import { createJobOutcomeNotifier } from './composition/job-outcomes.ts';
import { createJobRegistry, jobSettingsFrom, threadRegistrySource } from './composition/job-types.ts';
import type { Config } from './config/config.ts';
import { inlineExecutor, type JobExecutor } from './jobs/job-executor.ts';
import type { JobLogger, JobOutcomeListener, RunningWorkers } from './jobs/job-queue.ts';
import type { JobRegistry } from './jobs/job-registry.ts';
import { createThreadExecutor } from './jobs/thread-executor.ts';
import { loggerOptions } from './logging/logger.ts';
import type { IntakeMetrics } from './metrics/metrics.ts';
import { announcePresence } from './jobs/worker-presence.ts';

/** What a worker runs on. A test (or `intake serve`, sharing its own) passes some; the rest come from config. */
export type WorkerOverrides = InfrastructureOverrides & {
  /** A whole infrastructure shared with the API (the embedded mode); stays the caller's to close. */
  infrastructure?: Infrastructure;
  registry?: JobRegistry;
  executor?: JobExecutor;
  log?: JobLogger;
  /** Told of each job's final outcome (default: webhook events and e-mails). */
  onFinished?: JobOutcomeListener;
};

/** How this worker process runs: not to be confused with a queue's `WorkerPoolOptions`. */
export interface WorkerRunOptions {
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

/** The worker's side of the composition root: the counterpart of `buildApp` for `intake worker`. */
export async function buildWorker(
  config: Config,
  overrides: WorkerOverrides = {},
  options: WorkerRunOptions = {},
): Promise<WorkerRuntime> {
  const log = overrides.log ?? pino({ ...(loggerOptions(config) as LoggerOptions), name: 'worker' });
  const infrastructure = overrides.infrastructure ?? (await buildInfrastructure(config, log, overrides));
  const closeInfrastructure = overrides.infrastructure ? async () => undefined : () => infrastructure.close();
  let executor: JobExecutor = overrides.executor ?? inlineExecutor;
  try {
    const settings = jobSettingsFrom(config);
    const registry = overrides.registry ?? createJobRegistry(infrastructure.database.db, settings, () => infrastructure.blobs());
    const known = new Set(registry.queues());
    const unknown = (options.queues ?? []).filter((name) => !known.has(name));
    if (unknown.length > 0)
      throw new Error(`no job type uses the queue(s) ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
    if (!overrides.executor && (options.threads ?? 0) > 0) {
      executor = createThreadExecutor({
        threads: options.threads ?? 1,
        // The threads build the same registry from the same module, with only the settings handlers read.
        registry: threadRegistrySource(settings),
        database: infrastructure.database,
        log,
      });
    }
    await executor.ready?.();
    const onFinished = overrides.onFinished ?? createJobOutcomeNotifier(config, infrastructure.jobQueue);
    const workers = await infrastructure.jobQueue.startWorkers({
      registry,
      executor,
      onFinished,
      ...(options.queues?.length ? { queues: options.queues } : {}),
    });
    infrastructure.nameWorker(workers.workerId);
    const servedQueues = options.queues?.length ? options.queues : registry.queues();
    // Seen by the API (metrics, the starved-queue warning) whether or not it is running anything.
    const presence = await announcePresence(
      infrastructure.database.db,
      { workerId: workers.workerId, queues: servedQueues, heartbeatMs: config.jobs.heartbeatMs, leaseMs: config.jobs.leaseMs },
      log,
    ).catch(async (error: unknown) => {
      await workers.close(0);
      throw error;
    });
    log.info(
      {
        worker_id: workers.workerId,
        queue: infrastructure.jobQueue.kind,
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
      metrics: infrastructure.metrics,
      close(graceMs = config.jobs.shutdownGraceMs) {
        closing ??= (async () => {
          await presence
            .leave()
            .catch((error: unknown) =>
              log.warn({ err: error }, 'could not remove the worker presence row; it expires after a lease'),
            );
          await workers.close(graceMs);
          if (!overrides.executor) await executor.close();
          await closeInfrastructure();
        })();
        return closing;
      },
    };
  } catch (error) {
    if (!overrides.executor)
      await executor.close().catch((closeError: unknown) => log.warn({ err: closeError }, 'could not stop the job threads'));
    await closeInfrastructure();
    throw error;
  }
}
