/**
 * Start-up of the `intake` command: `intake --version`, `intake serve` from spawn to the first
 * `/health` answer on a new DATA_DIR and on existing data, and the idle RSS once the job
 * thread has loaded, for the compiled build (dist/) and for the sources run through tsx.
 *
 *   npm run build && node --import tsx bench/start.ts          # START_RUNS=10 START_MODES=compiled,sources
 *
 * `node -e 0` is timed alongside as the floor of any Node process on this machine at this
 * moment. Loopback only; temporary data directories are removed.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeBenchResult } from './result-file.ts';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const BIN = path.join(ROOT, 'bin', 'intake.js');
const RUNS = Number(process.env.START_RUNS ?? 10);
const MODES = (process.env.START_MODES ?? 'compiled,sources').split(',') as ('compiled' | 'sources')[];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function timeCommand(args: string[], env: NodeJS.ProcessEnv): number {
  const samples: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    const result = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`);
    samples.push(performance.now() - started);
  }
  return median(samples);
}

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

interface Start {
  healthMs: number;
  workersMs: number;
  idleRssMiB: number;
}

/** Spawns `intake serve`, polls /health from the first moment, waits for the job thread, reads RSS. */
async function startOnce(env: NodeJS.ProcessEnv): Promise<Start> {
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  let workersMs = NaN;
  const workers = new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (Number.isNaN(workersMs) && output.includes('worker started')) {
        workersMs = performance.now() - started;
        resolve();
      }
    });
  });
  const origin = `http://127.0.0.1:${env.PORT}`;
  let healthMs = NaN;
  while (Number.isNaN(healthMs)) {
    if (child.exitCode !== null) throw new Error(`serve exited: ${output}`);
    try {
      const response = await fetch(`${origin}/health`);
      if (response.ok) healthMs = performance.now() - started;
      await response.arrayBuffer();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  await workers;
  // Let start-up garbage be collected before reading the resident set.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const idleRssMiB = rssMiB(child.pid ?? 0);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  return { healthMs, workersMs, idleRssMiB };
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const floor = timeCommand(['-e', '0'], { PATH: process.env.PATH });
console.log(`node -e 0 (the floor): ${floor.toFixed(0)} ms (median of ${RUNS})`);
console.log(
  `load average: ${os
    .loadavg()
    .map((value) => value.toFixed(1))
    .join(' ')} on ${os.cpus().length} cores\n`,
);
console.log(
  '| mode | --version | first /health, new DATA_DIR | job thread ready | idle RSS | first /health, existing data | job thread ready | idle RSS |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
const results: { mode: string; floorMs: number; versionMs: number; first: Start; again: Start }[] = [];
for (const mode of MODES) {
  const base = { PATH: process.env.PATH, INTAKE_RUN: mode, NODE_ENV: 'development', LOG_PRETTY: 'false', LOG_LEVEL: 'info' };
  const version = timeCommand([BIN, '--version'], base);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-bench-start-'));
  try {
    const env = { ...base, DATA_DIR: dataDir, PORT: String(await freePort()) };
    const first = await startOnce(env);
    const again = await startOnce(env);
    results.push({ mode, floorMs: floor, versionMs: version, first, again });
    const ms = (value: number) => `${value.toFixed(0)} ms`;
    const mib = (value: number) => `${value.toFixed(0)} MiB`;
    console.log(
      `| ${mode} | ${ms(version)} | ${ms(first.healthMs)} | ${ms(first.workersMs)} | ${mib(first.idleRssMiB)} | ${ms(again.healthMs)} | ${ms(again.workersMs)} | ${mib(again.idleRssMiB)} |`,
    );
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
writeBenchResult(results);
