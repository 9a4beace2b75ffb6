import { Type } from '../vendor/typebox.ts';
import { defineJob } from './job-definition.ts';
import type { JobRegistry } from './job-registry.ts';

/** Does nothing: measures the queue itself (bench/queue.ts) and checks a deployment end to end. */
export const noopJob = defineJob({
  name: 'system.noop',
  queue: 'notifications',
  payload: Type.Object({ sequence: Type.Optional(Type.Integer()) }),
  retry: { maxAttempts: 1 },
  softTimeLimitMs: 10_000,
});

export function registerSystemJobs(registry: JobRegistry): void {
  registry.register(noopJob, async () => null);
}
