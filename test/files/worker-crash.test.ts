import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { eq, sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { files } from '../../src/files/file.schema.ts';
import { jobs } from '../../src/jobs/jobs.schema.ts';
import { records } from '../../src/records/record.schema.ts';
import { createTestApp, workerEnvironmentFor, type TestApp } from '../helpers/app.ts';
import { uploadOne } from './multipart.ts';

const ROWS = 60_000;

function csv(rows: number): string {
  const lines = ['id,name,email,note'];
  for (let index = 1; index <= rows; index += 1)
    lines.push(`${index},Customer ${index},customer${index}@example.com,"quoted, ${index}"`);
  return `${lines.join('\n')}\n`;
}

/** Starts a worker process and collects its output; `waitFor` resolves on the first line matching. */
function startWorker(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return {
    child,
    output: () => output,
    waitFor(match: (line: string) => boolean): Promise<string> {
      return new Promise((resolve, reject) => {
        // Only a guard so that a hang fails with the worker's log rather than a bare timeout.
        const guard = setTimeout(() => reject(new Error(`no matching line from the worker:\n${output}`)), 90_000);
        const check = () => {
          const line = output.split('\n').find(match);
          if (line !== undefined) {
            clearTimeout(guard);
            listeners.delete(check);
            resolve(line);
          }
        };
        listeners.add(check);
        child.once('exit', (code, signal) =>
          reject(new Error(`worker exited (${code ?? signal}) before the expected line:\n${output}`)),
        );
        check();
      });
    },
  };
}

async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

/**
 * Late acknowledgement end to end: a worker process dies by SIGKILL halfway through a CSV, and
 * another worker process runs the job again; the (file, row) key makes the second attempt skip
 * the rows the first one stored. On PGlite the processes take turns on the data directory (the
 * dead process's lock is taken over); on PostgreSQL (and BullMQ with REDIS_URL) they share it.
 */
describe('a worker killed mid-job', () => {
  let subject: TestApp | undefined;
  const children: ChildProcess[] = [];

  afterAll(async () => {
    for (const child of children) await kill(child, 'SIGKILL');
    await subject?.close();
  });

  it('leaves its files.process job to another worker, which stores every row exactly once', async () => {
    subject = await createTestApp();
    const user = await subject.createUser();
    const { id: fileId, job_id: jobId } = await uploadOne(subject.app, user, {
      filename: 'customers.csv',
      contentType: 'text/csv',
      content: csv(ROWS),
    });

    const { config } = subject;
    const env = workerEnvironmentFor(config, {
      LOG_LEVEL: 'debug',
      // A dead worker's lease runs out in a second, and the survivor notices within a quarter.
      JOBS_LEASE_MS: '1000',
      JOBS_HEARTBEAT_MS: '200',
      JOBS_STALLED_CHECK_MS: '250',
      JOBS_POLL_INTERVAL_MS: '50',
    });
    // PGlite is one process at a time: hand the directory to the workers.
    const embedded = config.database.url === undefined;
    if (embedded) await subject.database.close();

    const first = startWorker(['--import', 'tsx', 'test/files/pausing-worker.ts'], env);
    children.push(first.child);
    const paused = await first.waitFor((line) => line.startsWith('paused store'));
    expect(paused).toMatch(/paused store: \d+ rows/);
    if (!embedded) {
      const [partial] = await subject.database.db
        .select({ count: sql<number>`count(*)::int` })
        .from(records)
        .where(eq(records.fileId, fileId));
      expect(partial?.count).toBeGreaterThan(0);
      expect(partial?.count).toBeLessThan(ROWS);
    }
    await kill(first.child, 'SIGKILL');

    const second = startWorker(['bin/intake.js', 'worker'], env);
    children.push(second.child);
    await second.waitFor(
      (line) => line.includes('job attempt ended') && line.includes(jobId) && line.includes('"outcome":"succeeded"'),
    );
    await kill(second.child, 'SIGTERM');

    let database: Database = subject.database;
    if (embedded) database = await openDatabase({ url: undefined, dataDir: config.dataDir, poolSize: 1 });
    try {
      const [stored] = await database.db
        .select({
          count: sql<number>`count(*)::int`,
          distinctRows: sql<number>`count(distinct ${records.row})::int`,
          distinctIds: sql<number>`count(distinct ${records.data} ->> 'id')::int`,
          first: sql<number>`min(${records.row})`,
          last: sql<number>`max(${records.row})`,
        })
        .from(records)
        .where(eq(records.fileId, fileId));
      expect(stored).toEqual({ count: ROWS, distinctRows: ROWS, distinctIds: ROWS, first: 1, last: ROWS });
      const [file] = await database.db.select({ status: files.status }).from(files).where(eq(files.id, fileId));
      expect(file?.status).toBe('processed');
      const [job] = await database.db
        .select({ status: jobs.status, attempts: jobs.attempts })
        .from(jobs)
        .where(eq(jobs.id, jobId));
      expect(job?.status).toBe('succeeded');
      expect(job?.attempts).toBeGreaterThanOrEqual(2);
    } finally {
      if (embedded) await database.close();
    }
  }, 120_000);
});
