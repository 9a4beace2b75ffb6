import { afterEach, describe, expect, it, vi } from 'vitest';
import { Type } from '../../src/vendor/typebox.ts';
import { defineJob } from '../../src/jobs/job-definition.ts';
import type { JobExecutor } from '../../src/jobs/job-executor.ts';
import { JobRegistry } from '../../src/jobs/job-registry.ts';
import { AttemptControl, runAttempt } from '../../src/jobs/job-runner.ts';
import { silentLog } from './queue-harness.ts';

const quickJob = defineJob({
  name: 'test.quick',
  queue: 'notifications',
  payload: Type.Object({}),
  retry: { maxAttempts: 1 },
  softTimeLimitMs: 10,
  hardTimeLimitMs: 20,
});
const registered = new JobRegistry().register(quickJob, async () => 'done').get(quickJob.name);

/** An executor whose start-up (a thread loading its handlers) ends when the test says so. */
function slowStartingExecutor(): { executor: JobExecutor; finishStart: () => void } {
  let finishStart = () => undefined as void;
  const started = new Promise<void>((resolve) => (finishStart = resolve));
  return {
    executor: {
      start: () => started,
      // As the thread executor does: a job handed over before the start waits for it.
      execute: async (job, payload, context) => {
        await started;
        return job.handler(payload, context);
      },
      close: async () => undefined,
    },
    finishStart,
  };
}

function attempt(executor: JobExecutor, control = new AttemptControl()) {
  return runAttempt({
    registered,
    job: { id: 'job-1', type: quickJob.name, attempt: 1, maxAttempts: 1, ownerId: null, fileId: null, payload: {} },
    control,
    executor,
    log: silentLog,
    writeProgress: async () => undefined,
    emit: () => undefined,
  });
}

describe('an attempt on an executor that starts with its first job', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts its time limits once the executor has started, not before', async () => {
    vi.useFakeTimers();
    const { executor, finishStart } = slowStartingExecutor();
    const running = attempt(executor);
    // The start takes five times the soft limit and twice the hard one.
    await vi.advanceTimersByTimeAsync(50);
    finishStart();
    await expect(running).resolves.toEqual({ status: 'succeeded', result: 'done' });
  });

  it('is released when its lease is lost while the executor is still starting', async () => {
    const { executor } = slowStartingExecutor();
    const control = new AttemptControl();
    const running = attempt(executor, control);
    control.abort('lost');
    await expect(running).resolves.toEqual({ status: 'released' });
  });
});
