import type { JobContext } from './job-definition.ts';
import type { RegisteredJob } from './job-registry.ts';

/** Runs a handler: in this thread, or elsewhere (a worker thread) behind the same signature. */
export interface JobExecutor {
  execute(job: RegisteredJob, payload: unknown, context: JobContext): Promise<unknown>;
  /**
   * Resolves once handlers can run. Workers wait for it before claiming, so that a job's time
   * limits never count a thread's start-up (loading the parsers takes seconds on a busy machine).
   */
  ready?(): Promise<void>;
  /**
   * Starts what handlers run on, if that waits for the first job (`startOnFirstJob`), and
   * resolves once they can run. An attempt awaits it before its time limits start, for the
   * same reason as `ready`: the first job must not be charged the threads' start-up.
   */
  start?(): Promise<void>;
  close(): Promise<void>;
}

export const inlineExecutor: JobExecutor = {
  execute: (job, payload, context) => job.handler(payload, context),
  close: async () => undefined,
};
