import { buildInfrastructure, type Infrastructure, type InfrastructureOverrides } from './composition/infrastructure.ts';
import { createJobOutcomeNotifier } from './composition/job-outcomes.ts';
import { createJobRegistry, jobSettingsFrom, threadRegistrySource } from './composition/job-types.ts';
import type { Config } from './config/config.ts';
import { inlineExecutor, type JobExecutor } from './jobs/job-executor.ts';
import type { JobLogger, JobOutcomeListener, RunningWorkers } from './jobs/job-queue.ts';
import type { JobRegistry } from './jobs/job-registry.ts';
import { createThreadExecutor } from './jobs/thread-executor.ts';
import { createLogger } from './logging/logger.ts';
import { observedExecutor } from './telemetry/telemetry.ts';
import type { IntakeMetrics } from './metrics/metrics.ts';
import { announcePresence } from './jobs/worker-presence.ts';
import { recyclingEnabled, recyclingExecutor, type RecycleReason } from './jobs/worker-recycling.ts';

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
  /** Start the threads when the first job arrives (see `ThreadExecutorOptions`). */
  threadsOnFirstJob?: boolean;
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
  const log = overrides.log ?? createLogger(config, 'worker');
  const infrastructure = overrides.infrastructure ?? (await buildInfrastructure(config, log, overrides));
  const closeInfrastructure = overrides.infrastructure ? async () => undefined : () => infrastructure.close();
  const limits = { maxJobs: config.jobs.workerMaxJobs, maxRssMb: config.jobs.workerMaxRssMb };
  let current: Generation | undefined;
  try {
    const settings = jobSettingsFrom(config);
    const registry = overrides.registry ?? createJobRegistry(infrastructure.database.db, settings, () => infrastructure.blobs());
    const known = new Set(registry.queues());
    const unknown = (options.queues ?? []).filter((name) => !known.has(name));
    if (unknown.length > 0)
      throw new Error(`no job type uses the queue(s) ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
    const onFinished = overrides.onFinished ?? createJobOutcomeNotifier(config, infrastructure.jobQueue);
    const servedQueues = options.queues?.length ? options.queues : registry.queues();
    let closing: Promise<void> | undefined;
    let recycling: Promise<void> | undefined;

    /** One job runner: its executor (threads), its pool on the queue, its presence row. */
    const startGeneration = async (): Promise<Generation> => {
      let executor: JobExecutor = overrides.executor ?? inlineExecutor;
      const ownsExecutor = !overrides.executor && (options.threads ?? 0) > 0;
      if (ownsExecutor) {
        executor = createThreadExecutor({
          threads: options.threads ?? 1,
          ...(options.threadsOnFirstJob ? { startOnFirstJob: true } : {}),
          // The threads build the same registry from the same module, with only the settings handlers read.
          registry: threadRegistrySource(settings),
          database: infrastructure.database,
          log,
        });
      }
      const stopExecutor = async () => {
        if (ownsExecutor)
          await executor.close().catch((error: unknown) => log.warn({ err: error }, 'could not stop the job threads'));
      };
      // Known once this runner is fully started; a limit may trip before that (jobs start at once).
      let started!: (generation: Generation | undefined) => void;
      const self = new Promise<Generation | undefined>((resolve) => {
        started = resolve;
      });
      // The pool, once started; a limit that trips before then stops it as soon as it is known.
      let pool: RunningWorkers | undefined;
      let limitReached = false;
      try {
        if (recyclingEnabled(limits))
          executor = recyclingExecutor(executor, limits, (reason, detail) => {
            // No claim after the limit: a job finishing now would otherwise free a slot that the
            // pool fills before the (asynchronous) replacement below reaches it.
            limitReached = true;
            pool?.stopClaiming();
            // One replacement at a time: the next runner's own limit waits for this one's start.
            recycling = (recycling ?? Promise.resolve()).then(() => self.then((old) => recycle(old, reason, detail)));
          });
        executor = observedExecutor(executor, infrastructure.telemetry, infrastructure.jobQueue.kind);
        await executor.ready?.();
        const workers = await infrastructure.jobQueue.startWorkers({
          registry,
          executor,
          onFinished,
          ...(options.queues?.length ? { queues: options.queues } : {}),
        });
        pool = workers;
        if (limitReached) workers.stopClaiming();
        infrastructure.nameWorker(workers.workerId);
        // Seen by the API (metrics, the starved-queue warning) whether or not it is running anything.
        const presence = await announcePresence(
          infrastructure.database.db,
          {
            workerId: workers.workerId,
            queues: servedQueues,
            heartbeatMs: config.jobs.heartbeatMs,
            leaseMs: config.jobs.leaseMs,
          },
          log,
        ).catch(async (error: unknown) => {
          await workers.close(0);
          throw error;
        });
        const generation: Generation = {
          workers,
          async stop(graceMs: number) {
            await presence
              .leave()
              .catch((error: unknown) =>
                log.warn({ err: error }, 'could not remove the worker presence row; it expires after a lease'),
              );
            await workers.close(graceMs);
            await stopExecutor();
          },
        };
        started(generation);
        return generation;
      } catch (error) {
        started(undefined);
        await stopExecutor();
        throw error;
      }
    };

    /**
     * The runner reached WORKER_MAX_JOBS or WORKER_MAX_RSS_MB: it stops claiming at once, its
     * running jobs finish (or, past the grace, go back to the queue uncounted), then a new runner
     * with new threads takes over. Jobs queued meanwhile wait in the queue: nothing is lost.
     */
    const recycle = async (old: Generation | undefined, reason: RecycleReason, detail: { attempts: number; rssMb: number }) => {
      if (!old || old !== current || closing) return;
      log.info(
        { worker_id: old.workers.workerId, reason, attempts: detail.attempts, rss_mb: detail.rssMb, limits },
        'recycling the job runner: finishing its running jobs, taking no new ones',
      );
      try {
        await old.stop(config.jobs.shutdownGraceMs);
        if (closing) return;
        current = await startGeneration();
        infrastructure.metrics.workerRecycles.inc({ reason });
        log.info({ worker_id: current.workers.workerId, replaced: old.workers.workerId, reason }, 'job runner replaced');
      } catch (error) {
        log.error({ err: error }, 'could not replace the recycled job runner; this worker runs no jobs until restarted');
      }
    };

    current = await startGeneration();
    log.info(
      {
        worker_id: current.workers.workerId,
        queue: infrastructure.jobQueue.kind,
        queues: servedQueues,
        job_types: registry.names(),
        threads: options.threads ?? 0,
        ...(recyclingEnabled(limits) ? { recycle_after: limits } : {}),
      },
      'worker started',
    );
    return {
      get workers() {
        return (current as Generation).workers;
      },
      log,
      metrics: infrastructure.metrics,
      close(graceMs = config.jobs.shutdownGraceMs) {
        closing ??= (async () => {
          // A replacement being started is waited for, then stopped with the rest.
          await recycling;
          await current?.stop(graceMs);
          await closeInfrastructure();
        })();
        return closing;
      },
    };
  } catch (error) {
    await closeInfrastructure();
    throw error;
  }
}

interface Generation {
  readonly workers: RunningWorkers;
  stop(graceMs: number): Promise<void>;
}
