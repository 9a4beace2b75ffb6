import fs from 'node:fs';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { generateFleetKeys } from '../../src/config/fleet-keys.ts';
import { jobs } from '../../src/jobs/jobs.schema.ts';
import { records } from '../../src/records/record.schema.ts';
import { spawnCli, spawnLogged, type CliProcess, type LogLine } from '../helpers/cli-process.ts';
import { createTestDatabase, makeTempDir, type TestDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/free-port.ts';
import { NGINX, startProxy, type RunningProxy } from '../deploy/nginx.ts';
import { multipartBody } from '../files/multipart.ts';
import { TestSocket } from '../realtime/ws-client.ts';

// Enough rows for several COPY statements (10,000 rows each, two at once), so that some are stored
// and reported while others are still to come when the first worker pauses.
const ROWS = 60_000;
const missing = [
  process.env.DATABASE_URL ? undefined : 'DATABASE_URL',
  process.env.REDIS_URL ? undefined : 'REDIS_URL',
  fs.existsSync(NGINX) ? undefined : `${NGINX} (apt-get install nginx)`,
].filter(Boolean);

function csv(rows: number): string {
  const lines = ['id,name,email'];
  for (let index = 1; index <= rows; index += 1) lines.push(`${index},Customer ${index},customer${index}@example.com`);
  return `${lines.join('\n')}\n`;
}

/** The samples of one metric family, from a Prometheus text exposition. */
function samples(exposition: string, name: string): string[] {
  return exposition.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

/** Counters and gauges of jobs, HTTP and queues (histogram buckets left out), for a readable excerpt. */
function metricsExcerpt(exposition: string): string[] {
  return exposition
    .split('\n')
    .filter((line) => /^intake_(jobs?_|http_|queue_|upload_|websocket_)/.test(line) && !line.includes('_bucket{'));
}

/**
 * The scaled deployment as the README describes it, on this machine: nginx (deploy/nginx.conf)
 * in front of two `intake serve` processes, two worker processes, PostgreSQL and Redis shared,
 * secrets from `intake keys generate`. A CSV goes up through nginx; its job is watched over a
 * WebSocket held by the other API process; the worker running it is SIGKILLed halfway (when it
 * says so, not after a delay); the other worker takes it over; every row is stored once.
 */
describe.skipIf(missing.length > 0)(
  `a fleet: nginx, two API processes, two workers on PostgreSQL and Redis${missing.length ? ` (skipped: needs ${missing.join(', ')})` : ''}`,
  () => {
    const processes: CliProcess[] = [];
    let proxy: RunningProxy | undefined;
    let database: TestDatabase | undefined;
    const directories: string[] = [];

    afterAll(async () => {
      for (const child of processes) child.signal('SIGKILL');
      await Promise.all(processes.map((child) => child.exited));
      await proxy?.stop();
      await database?.close();
      for (const directory of directories) fs.rmSync(directory, { recursive: true, force: true });
    });

    it('processes an upload through nginx exactly once across a worker killed mid-job, seen on every /metrics', async () => {
      database = await createTestDatabase();
      const dataDir = makeTempDir('intake-fleet-data');
      const blobDir = makeTempDir('intake-fleet-blobs');
      const nginxDir = makeTempDir('intake-fleet-nginx');
      directories.push(dataDir, blobDir, nginxDir);
      const prefix = `fleet${Date.now().toString(36)}`;
      const secrets = Object.fromEntries(
        generateFleetKeys().map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
      const [api1Port, api2Port, worker2Metrics] = [await freePort(), await freePort(), await freePort()];
      // What every process of the fleet shares; each process has its own DATA_DIR (the check must pass without DATA_DIR_SHARED).
      const shared = {
        NODE_ENV: 'test',
        DATABASE_URL: database.url,
        REDIS_URL: process.env.REDIS_URL,
        REDIS_KEY_PREFIX: `${prefix}:`,
        JOBS_QUEUE_PREFIX: prefix,
        STORAGE_LOCAL_DIR: blobDir,
        MIGRATE_ON_BOOT: 'false',
        TRUST_PROXY: 'true',
        LOG_LEVEL: 'info',
        // A dead worker's job is taken over within lease + one stalled check: 2 s + 0.5 s here.
        JOBS_LEASE_MS: '2000',
        JOBS_HEARTBEAT_MS: '500',
        JOBS_STALLED_CHECK_MS: '500',
        DATA_DIR_SHARED: '',
        ...secrets,
      };
      const own = (name: string) => {
        const directory = path.join(dataDir, name);
        fs.mkdirSync(directory);
        return directory;
      };

      const api1 = spawnCli(['serve'], {
        ...shared,
        DATA_DIR: own('api1'),
        PORT: String(api1Port),
        PUBLIC_URL: 'http://127.0.0.1',
      });
      const api2 = spawnCli(['serve'], {
        ...shared,
        DATA_DIR: own('api2'),
        PORT: String(api2Port),
        PUBLIC_URL: 'http://127.0.0.1',
      });
      processes.push(api1, api2);
      const listening = (line: LogLine) => typeof line.msg === 'string' && line.msg.includes(' listening on ');
      await Promise.all([api1.waitForLine(listening, 'listening'), api2.waitForLine(listening, 'listening')]);
      proxy = await startProxy({
        upstream: [`127.0.0.1:${api1Port}`, `127.0.0.1:${api2Port}`],
        maxUploadBytes: 50 * 1024 * 1024,
        directory: nginxDir,
      });

      // The first worker is `intake worker`'s buildWorker with an executor that stops once rows are
      // stored (test/files/pausing-worker.ts); it runs alone until it has the job, so it is the one killed.
      const pausing = spawnLogged(['--import', 'tsx', 'test/files/pausing-worker.ts'], { ...shared, DATA_DIR: own('worker1') });
      processes.push(pausing);
      await pausing.waitForLine((line) => line.msg === 'worker started', 'worker started');

      // A user and a token, through nginx.
      const credentials = { email: 'fleet@example.com', password: 'correct horse battery staple' };
      const registered = await fetch(`${proxy.url}/api/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...credentials, full_name: 'Fleet' }),
      });
      expect(registered.status).toBe(201);
      const token = (await (
        await fetch(`${proxy.url}/api/v1/auth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(credentials),
        })
      ).json()) as { access_token: string };

      // Watched from the second API process directly; nginx may send the upload to either.
      const socket = new TestSocket(`ws://127.0.0.1:${api2Port}/api/v1/ws`);
      await socket.opened;
      socket.send({ type: 'auth', token: token.access_token });
      expect((await socket.next()).type).toBe('auth.ok');
      socket.send({ type: 'subscribe', channel: 'user' });
      expect(await socket.next()).toEqual({ type: 'subscribed', channel: 'user' });

      const { body, contentType } = multipartBody([{ filename: 'customers.csv', contentType: 'text/csv', content: csv(ROWS) }]);
      const uploaded = await fetch(`${proxy.url}/api/v1/files`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token.access_token}`, 'content-type': contentType },
        body,
      });
      expect(uploaded.status).toBe(201);
      const file = ((await uploaded.json()) as { items: { id: string; job_id: string }[] }).items[0]!;

      const paused = await pausing.waitForLine((line) => String(line.msg).startsWith('paused store'), 'the pause');
      expect(paused.msg).toMatch(/paused store: \d+ rows/);
      const [partial] = await database.database.db
        .select({ count: sql<number>`count(*)::int` })
        .from(records)
        .where(eq(records.fileId, file.id));
      expect(partial?.count).toBeGreaterThan(0);
      expect(partial?.count).toBeLessThan(ROWS);

      const worker2 = spawnCli(['worker'], { ...shared, DATA_DIR: own('worker2'), METRICS_PORT: String(worker2Metrics) });
      processes.push(worker2);
      await worker2.waitForLine((line) => line.msg === 'worker started', 'worker started');
      pausing.signal('SIGKILL');
      expect(await pausing.exited).toBe('SIGKILL');

      const frames = await socket.until(
        (frame) => frame.type === 'job.status' && frame.job_id === file.job_id && frame.status === 'succeeded',
      );
      socket.close();
      expect(frames.filter((frame) => frame.type === 'file.status').at(-1)).toMatchObject({ status: 'processed' });
      await worker2.waitForLine(
        (line) => line.msg === 'job attempt ended' && line.job_id === file.job_id && line.outcome === 'succeeded',
        'the job to succeed on the second worker',
      );
      // The second worker's BullMQ stalled check found the job (the API processes run none); it says so
      // once, whether or not it had already started the new attempt when it noticed.
      const recovered = (lines: readonly LogLine[]) =>
        lines.filter((line) => String(line.msg).startsWith('recovered a stalled job') && line.job_id === file.job_id);
      expect(recovered(worker2.lines)).toHaveLength(1);
      expect([...recovered(api1.lines), ...recovered(api2.lines)]).toEqual([]);

      const [stored] = await database.database.db
        .select({
          count: sql<number>`count(*)::int`,
          distinctRows: sql<number>`count(distinct ${records.row})::int`,
        })
        .from(records)
        .where(eq(records.fileId, file.id));
      expect(stored).toEqual({ count: ROWS, distinctRows: ROWS });
      const [job] = await database.database.db.select().from(jobs).where(eq(jobs.id, file.job_id));
      expect(job).toMatchObject({ status: 'succeeded', attempts: 2 });

      // Every process's /metrics shows its part: requests on the APIs, the attempts on the worker.
      const scrape = async (url: string) => (await fetch(url)).text();
      const api1Metrics = await scrape(`http://127.0.0.1:${api1Port}/metrics`);
      const api2Metrics = await scrape(`http://127.0.0.1:${api2Port}/metrics`);
      const workerMetrics = await scrape(`http://127.0.0.1:${worker2Metrics}/metrics`);
      const requests = (text: string) =>
        samples(text, 'intake_http_request_duration_seconds_count')
          .map((line) => Number(line.split(' ').at(-1)))
          .reduce((sum, value) => sum + value, 0);
      expect(requests(api1Metrics)).toBeGreaterThan(0);
      expect(requests(api2Metrics)).toBeGreaterThan(0);
      const uploads = [api1Metrics, api2Metrics].flatMap((text) => samples(text, 'intake_upload_files_total'));
      expect(uploads.some((line) => !line.endsWith(' 0'))).toBe(true);
      const processJob = '{queue="files",type="files.process"}';
      expect(samples(workerMetrics, 'intake_jobs_succeeded_total')).toContain(`intake_jobs_succeeded_total${processJob} 1`);
      // Counted by the process that recovered it, in the registry its /metrics serves.
      expect(samples(workerMetrics, 'intake_jobs_stalled_total')).toContain(`intake_jobs_stalled_total${processJob} 1`);

      // The job, HTTP and queue lines of each process, to quote (test-output/ is not committed).
      const excerpt = [
        ['api1', api1Metrics],
        ['api2', api2Metrics],
        ['worker2', workerMetrics],
      ].flatMap(([name, text]) => metricsExcerpt(text!).map((line) => `${name} ${line}`));
      const excerptFile = process.env.FLEET_METRICS_EXCERPT ?? path.join('test-output', 'fleet-metrics.txt');
      fs.mkdirSync(path.dirname(excerptFile), { recursive: true });
      fs.writeFileSync(excerptFile, `${excerpt.join('\n')}\n`);
    }, 600_000); // five processes and nginx starting on a busy machine: generous, never a measure
  },
);
