import { JobRegistry, type JobDependencies } from './job-catalog.ts';
import { registerFileJobs } from '../files/file-processing.job.ts';
import { registerEmailJobs } from '../notifications/email.job.ts';
import { registerWebhookJobs } from '../webhooks/webhook-delivery.job.ts';
import { registerSystemJobs } from './system-jobs.ts';

/**
 * Every job type a worker can run. Each domain adds its `register…Jobs(registry, deps)` call
 * here. It is called in the worker process, in `intake serve`'s main thread (for the
 * definitions) and in each worker thread (to run the handlers), so it must only build values.
 */
export function createJobRegistry(deps: JobDependencies): JobRegistry {
  const registry = new JobRegistry();
  registerSystemJobs(registry);
  registerFileJobs(registry, deps);
  registerWebhookJobs(registry, deps);
  registerEmailJobs(registry, deps);
  return registry;
}
