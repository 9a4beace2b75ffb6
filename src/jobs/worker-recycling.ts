import type { JobExecutor } from './job-executor.ts';

export type RecycleReason = 'jobs' | 'memory';

export interface RecyclingLimits {
  /** Attempts after which the runner is replaced (0: never). */
  maxJobs: number;
  /** Resident memory, in MiB, past which the runner is replaced (0: never). */
  maxRssMb: number;
}

/**
 * Counts the attempts an executor runs, and checks memory after each one; the first time a
 * limit is reached `onLimit` is called (once). The count trips as the last allowed attempt
 * starts, so the runner stops claiming then instead of after taking more. Celery's `worker_max_tasks_per_child` and
 * `worker_max_memory_per_child`: a handler that leaks (a parser keeping buffers, a native
 * library) is bounded by replacing what runs it, not by finding the leak in production.
 */
export function recyclingExecutor(
  executor: JobExecutor,
  limits: RecyclingLimits,
  onLimit: (reason: RecycleReason, detail: { attempts: number; rssMb: number }) => void,
  rssBytes: () => number = () => process.memoryUsage.rss(),
): JobExecutor {
  let attempts = 0;
  let tripped = false;
  const trip = (reason: RecycleReason) => {
    if (tripped) return;
    tripped = true;
    onLimit(reason, { attempts, rssMb: Math.round(rssBytes() / (1024 * 1024)) });
  };
  const started = () => {
    attempts += 1;
    if (limits.maxJobs > 0 && attempts >= limits.maxJobs) trip('jobs');
  };
  const ended = () => {
    if (limits.maxRssMb > 0 && rssBytes() >= limits.maxRssMb * 1024 * 1024) trip('memory');
  };
  return {
    ...(executor.ready ? { ready: () => executor.ready?.() ?? Promise.resolve() } : {}),
    ...(executor.start ? { start: () => executor.start?.() ?? Promise.resolve() } : {}),
    async execute(job, payload, context) {
      started();
      try {
        return await executor.execute(job, payload, context);
      } finally {
        ended();
      }
    },
    close: () => executor.close(),
  };
}

export function recyclingEnabled(limits: RecyclingLimits): boolean {
  return limits.maxJobs > 0 || limits.maxRssMb > 0;
}
