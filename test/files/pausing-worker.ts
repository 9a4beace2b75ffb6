/**
 * A worker process for the crash test: `buildWorker` from the environment, like `intake
 * worker`, except that once a `files.process` attempt reports stored rows it prints
 * `paused <progress message>` and stops there, holding its lease, so that the test can kill it
 * with SIGKILL while the job is provably half done.
 *
 *   node --import tsx test/files/pausing-worker.ts
 */
import { loadConfig } from '../../src/config/config.ts';
import { inlineExecutor, type JobExecutor } from '../../src/jobs/job-executor.ts';
import { buildWorker } from '../../src/worker.ts';

const pausing: JobExecutor = {
  execute(job, payload, context) {
    return inlineExecutor.execute(job, payload, {
      ...context,
      signal: context.signal,
      async progress(update) {
        await context.progress(update);
        if (job.definition.name === 'files.process' && /^store: [1-9]\d* rows/.test(update.message ?? '')) {
          process.stdout.write(`paused ${update.message}\n`);
          await new Promise<never>(() => undefined);
        }
      },
    });
  },
  close: async () => undefined,
};

await buildWorker(loadConfig(), { executor: pausing });
process.stdout.write('pausing worker started\n');
