/**
 * End-to-end ingest: generates a 1,000,000-row CSV (about 100 MB) in a temporary directory,
 * uploads it to real Intake processes on loopback, waits for its `files.process` job and prints
 * rows/s and the `/health` latency sampled without pause while the file is ingested.
 *
 * - PGlite: one `intake serve` (embedded mode: the workers run in serve, handlers in a worker
 *   thread, SQL on the main thread).
 * - PostgreSQL (when DATABASE_URL is set): `intake serve` + `intake worker` on a scratch database
 *   created (and dropped) by this script; the database named in DATABASE_URL is only used to
 *   run CREATE/DROP DATABASE. The limit is measured on the same scratch database with `psql
 *   \copy` of the same file.
 *
 *   node --import tsx bench/ingest.ts [rows] [pglite|postgres|postgres-split ...]
 *   (postgres: serve + worker and workers in serve; postgres-split: serve + worker only)
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx bench/ingest.ts
 *
 * PROCESSING_BATCH_SIZE and other Intake variables set in the environment are passed on.
 * BENCH_PROFILE_DIR=dir: every `intake serve` and `intake worker` this script starts writes a V8
 * CPU profile of each of its threads there.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../test/helpers/free-port.ts';
import { writeBenchResult } from './result-file.ts';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const requested = process.argv.slice(3);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const MIB = 1024 * 1024;
const PASSED_ON = ['PROCESSING_BATCH_SIZE', 'JOBS_WORKER_THREADS', 'DATABASE_POOL_SIZE'];

interface IngestResult {
  mode: string;
  rows: number;
  uploadSeconds: number;
  processSeconds: number;
  totalSeconds: number;
  healthSamples: number[];
  peakRssMiB: number;
  /** CPU of the Intake processes from upload end to job done, per row: all threads, and main threads only. */
  cpuMicrosPerRow: number;
  mainThreadCpuMicrosPerRow: number;
}

interface LimitResult {
  name: string;
  seconds: number;
}

function csvCell(value: string | number): string {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

async function generateCsv(file: string): Promise<number> {
  const out = fs.createWriteStream(file);
  out.write('id,name,email,amount,created_at,note\n');
  let chunk = '';
  for (let index = 1; index <= ROWS; index += 1) {
    const note = index % 10 === 0 ? 'needs "review", later' : 'regular customer';
    chunk += `${index},Customer ${index},customer${index}@example.com,${(index * 7.31).toFixed(2)},${new Date(1_700_000_000_000 + index * 1000).toISOString()},${csvCell(note)}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return fs.statSync(file).size;
}

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

const PROFILE_ARGS = process.env.BENCH_PROFILE_DIR
  ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_PROFILE_DIR)}`]
  : [];

const TICK_MICROS = 1e6 / 100; // USER_HZ

/** CPU ticks (user + system) of a process: all its threads, and its main thread alone. */
function cpuTicks(pid: number | undefined): { all: number; main: number } {
  if (pid === undefined) return { all: 0, main: 0 };
  const ticks = (file: string) => {
    try {
      const fields = fs.readFileSync(file, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return 0;
    }
  };
  return { all: ticks(`/proc/${pid}/stat`), main: ticks(`/proc/${pid}/task/${pid}/stat`) };
}

function startIntake(command: 'serve' | 'worker', env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [...PROFILE_ARGS, path.join(ROOT, 'bin/intake.js'), command], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'development', LOG_LEVEL: 'warn', LOG_PRETTY: 'false', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[${command}] ${chunk.toString()}`));
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function request(
  url: string,
  options: http.RequestOptions,
  body?: string | fs.ReadStream,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, ...options }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    if (body === undefined) req.end();
    else if (typeof body === 'string') req.end(body);
    else body.pipe(req);
  });
}

async function json<T>(url: string, options: http.RequestOptions, body?: string): Promise<T> {
  const response = await request(url, options, body);
  if (response.status >= 300) throw new Error(`${options.method ?? 'GET'} ${url}: ${response.status} ${response.text}`);
  return JSON.parse(response.text) as T;
}

/** Uploads the file as one multipart part, streamed from disk. */
async function upload(base: string, token: string, file: string): Promise<{ id: string; job_id: string }> {
  const boundary = 'intake-bench-ingest';
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="customers.csv"\r\nContent-Type: text/csv\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const size = fs.statSync(file).size;
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/api/v1/files`, {
      method: 'POST',
      agent,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(Buffer.byteLength(head) + size + Buffer.byteLength(tail)),
      },
    });
    req.on('response', (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        if ((response.statusCode ?? 500) >= 300) reject(new Error(`upload: ${response.statusCode} ${text}`));
        else resolve((JSON.parse(text) as { items: { id: string; job_id: string }[] }).items[0]!);
      });
    });
    req.on('error', reject);
    req.write(head);
    const stream = fs.createReadStream(file, { highWaterMark: MIB });
    stream.pipe(req, { end: false });
    stream.on('end', () => req.end(tail));
    stream.on('error', reject);
  });
}

async function waitHealthy(base: string, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 1200; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`intake exited with ${child.exitCode}`);
    try {
      if ((await request(`${base}/health`, {})).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('intake did not start');
}

/** Requests /health one after another until stopped; returns each latency in ms. */
function sampleHealth(base: string): { stop(): Promise<number[]> } {
  const samples: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const response = await request(`${base}/health`, {});
      if (response.status !== 200) throw new Error(`/health answered ${response.status}`);
      samples.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

async function ingest(mode: string, file: string, env: Record<string, string>, withWorker: boolean): Promise<IngestResult> {
  const port = await freePort();
  const passed = Object.fromEntries(PASSED_ON.filter((name) => process.env[name]).map((name) => [name, process.env[name]!]));
  const common = {
    ...passed,
    ...env,
    // serve and worker use the same DATA_DIR on this machine: its key pair and blobs are shared.
    DATA_DIR_SHARED: 'true',
    MAX_UPLOAD_BYTES: String(1024 * MIB),
    LOGIN_RATE_LIMIT_PER_IP: '1000',
    JOBS_POLL_INTERVAL_MS: '100',
  };
  const serve = startIntake('serve', {
    ...common,
    PORT: String(port),
    ...(withWorker ? { JOBS_WORKERS_IN_SERVE: 'false' } : {}),
  });
  let worker: ChildProcess | undefined;
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitHealthy(base, serve);
    if (withWorker) worker = startIntake('worker', common);
    const email = `bench-${Date.now()}@example.test`;
    const password = 'bench password 123';
    await json(
      `${base}/api/v1/auth/register`,
      { method: 'POST', headers: { 'content-type': 'application/json' } },
      JSON.stringify({ email, password }),
    );
    const { access_token: token } = await json<{ access_token: string }>(
      `${base}/api/v1/auth/token`,
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      new URLSearchParams({ username: email, password }).toString(),
    );
    // Let the worker process start (migrations, first poll) before the clock runs.
    await new Promise((resolve) => setTimeout(resolve, withWorker ? 3_000 : 500));

    let peak = 0;
    const rss = setInterval(() => (peak = Math.max(peak, rssMiB(serve.pid) + rssMiB(worker?.pid))), 100);
    const health = sampleHealth(base);
    const started = Date.now();
    const uploaded = await upload(base, token, file);
    const uploadEnd = Date.now();
    const cpuAt = () => {
      const [a, b] = [cpuTicks(serve.pid), cpuTicks(worker?.pid)];
      return { all: a.all + b.all, main: a.main + b.main };
    };
    const cpuBefore = cpuAt();
    let job: { status: string; finished_at: string | null; result: { rows?: number } | null; error: unknown };
    for (;;) {
      job = await json(`${base}/api/v1/jobs/${uploaded.job_id}`, { headers: { authorization: `Bearer ${token}` } });
      if (!['queued', 'running'].includes(job.status)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const cpuAfter = cpuAt();
    const healthSamples = await health.stop();
    clearInterval(rss);
    if (job.status !== 'succeeded') throw new Error(`${mode}: job ${job.status}: ${JSON.stringify(job.error)}`);
    const finished = Date.parse(job.finished_at!);
    return {
      mode,
      rows: job.result?.rows ?? 0,
      uploadSeconds: (uploadEnd - started) / 1000,
      processSeconds: (finished - uploadEnd) / 1000,
      totalSeconds: (finished - started) / 1000,
      healthSamples,
      peakRssMiB: peak,
      cpuMicrosPerRow: ((cpuAfter.all - cpuBefore.all) * TICK_MICROS) / Math.max(1, job.result?.rows ?? 0),
      mainThreadCpuMicrosPerRow: ((cpuAfter.main - cpuBefore.main) * TICK_MICROS) / Math.max(1, job.result?.rows ?? 0),
    };
  } finally {
    if (worker) await stop(worker);
    await stop(serve);
  }
}

function psql(url: string, command: string): number {
  const started = performance.now();
  const result = spawnSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', command], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`);
  return (performance.now() - started) / 1000;
}

/** The limit on the same database: psql \copy of the same file, as text and then as (row, jsonb). */
function limits(url: string, file: string): LimitResult[] {
  psql(url, 'create table bench_copy_text (id text, name text, email text, amount text, created_at text, note text)');
  psql(url, 'create table bench_copy_jsonb (row int primary key, data jsonb not null)');
  const copy = psql(url, `\\copy bench_copy_text from '${file}' with (format csv, header true)`);
  const convert = psql(
    url,
    `insert into bench_copy_jsonb (row, data) select row_number() over (), jsonb_build_object('id', id, 'name', name, 'email', email, 'amount', amount, 'created_at', created_at, 'note', note) from bench_copy_text`,
  );
  psql(url, 'drop table bench_copy_text, bench_copy_jsonb');
  return [
    { name: '\\copy into a 6-text-column table', seconds: copy },
    { name: '\\copy + insert-select into (row int primary key, data jsonb)', seconds: copy + convert },
  ];
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function withScratchDatabase<T>(adminUrl: string, run: (url: string) => Promise<T>): Promise<T> {
  const name = `intake_bench_ingest_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  try {
    return await run(url.toString());
  } finally {
    const cleanup = new pg.Client({ connectionString: adminUrl });
    await cleanup.connect();
    await cleanup.query(`drop database if exists ${name} with (force)`);
    await cleanup.end();
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-bench-ingest-'));
try {
  const file = path.join(tmp, 'customers.csv');
  const bytes = await generateCsv(file);
  console.log(
    `ingest of ${ROWS.toLocaleString('en')} CSV rows (${(bytes / MIB).toFixed(1)} MiB), Node ${process.version}, ${os.cpus().length} cores`,
  );
  const results: IngestResult[] = [];
  let limitResults: LimitResult[] = [];
  const wants = (mode: string) => requested.length === 0 || requested.includes(mode);

  if (wants('pglite')) {
    const dataDir = fs.mkdtempSync(path.join(tmp, 'pglite-'));
    results.push(await ingest('PGlite · intake serve (workers in serve)', file, { DATA_DIR: dataDir }, false));
  }
  const adminUrl = process.env.DATABASE_URL;
  const split = wants('postgres-split') && !requested.includes('postgres');
  if ((wants('postgres') || split) && adminUrl) {
    await withScratchDatabase(adminUrl, async (url) => {
      const dataDir = fs.mkdtempSync(path.join(tmp, 'pg-'));
      results.push(
        await ingest('PostgreSQL · intake serve + intake worker', file, { DATA_DIR: dataDir, DATABASE_URL: url }, true),
      );
      if (!split) {
        const embedded = fs.mkdtempSync(path.join(tmp, 'pg-embedded-'));
        results.push(
          await ingest('PostgreSQL · intake serve (workers in serve)', file, { DATA_DIR: embedded, DATABASE_URL: url }, false),
        );
      }
      limitResults = limits(url, file);
    });
  } else if (wants('postgres') || split) {
    console.log('(DATABASE_URL is not set: PostgreSQL skipped)');
  }

  console.log('');
  console.log(
    '| run | rows | upload s | upload end → job done: s, rows/s | total: s, rows/s | /health p50 / p99 / max ms (samples) | peak RSS MiB | CPU µs/row (main threads) |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const sorted = [...r.healthSamples].sort((a, b) => a - b);
    console.log(
      `| ${r.mode} | ${r.rows} | ${r.uploadSeconds.toFixed(1)} | ${r.processSeconds.toFixed(1)} s, ${Math.round(r.rows / r.processSeconds).toLocaleString('en')} | ` +
        `${r.totalSeconds.toFixed(1)} s, ${Math.round(r.rows / r.totalSeconds).toLocaleString('en')} | ` +
        `${percentile(sorted, 50).toFixed(1)} / ${percentile(sorted, 99).toFixed(1)} / ${(sorted.at(-1) ?? NaN).toFixed(1)} (${sorted.length}) | ${r.peakRssMiB.toFixed(0)} | ${r.cpuMicrosPerRow.toFixed(1)} (${r.mainThreadCpuMicrosPerRow.toFixed(1)}) |`,
    );
  }
  for (const limit of limitResults) {
    console.log(
      `| limit: ${limit.name} | ${ROWS} | | ${limit.seconds.toFixed(1)} s, ${Math.round(ROWS / limit.seconds).toLocaleString('en')} | | | | |`,
    );
  }
  writeBenchResult({
    rows: ROWS,
    runs: results.map((r) => {
      const sorted = [...r.healthSamples].sort((a, b) => a - b);
      return {
        mode: r.mode,
        rows: r.rows,
        rowsPerSecond: r.rows / r.processSeconds,
        healthP99: percentile(sorted, 99),
        peakRssMiB: r.peakRssMiB,
      };
    }),
    limits: limitResults.map((l) => ({ name: l.name, rowsPerSecond: ROWS / l.seconds })),
  });
  const pgRun = results.find((r) => r.mode.startsWith('PostgreSQL · intake serve + intake worker'));
  if (pgRun && limitResults.length > 0) {
    const rate = pgRun.rows / pgRun.processSeconds;
    for (const limit of limitResults) {
      console.log(
        `PostgreSQL ingest (serve + worker) reaches ${((rate / (ROWS / limit.seconds)) * 100).toFixed(0)}% of "${limit.name}"`,
      );
    }
  }
} finally {
  agent.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
}
