/**
 * Uploads one large file (1 GiB by default) to a real `intake serve` process and to a plain
 * node:http server that only hashes the body and writes it to disk (the machine's limit), and
 * prints MB/s and the server's resident memory growth for each.
 *
 *   node --import tsx bench/upload.ts            # 1 GiB
 *   UPLOAD_MIB=256 node --import tsx bench/upload.ts
 *
 * Loopback only; each run uses fresh temporary directories and removes them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../test/helpers/free-port.ts';

const MIB = 1024 * 1024;
const TOTAL_BYTES = Number(process.env.UPLOAD_MIB ?? 1024) * MIB;
const CHUNK = Buffer.from('id,name,value\n'.padEnd(64 * 1024 - 1, 'x') + '\n');
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

interface Measurement {
  seconds: number;
  mbPerSecond: number;
  rssBeforeMiB: number;
  rssPeakMiB: number;
}

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : NaN;
}

/** Streams a multipart body of TOTAL_BYTES from one reused buffer: the client holds no file. */
function sendUpload(url: string, headers: Record<string, string>, multipart: boolean): Promise<number> {
  const boundary = 'intake-bench-boundary';
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const length = multipart ? head.length + TOTAL_BYTES + tail.length : TOTAL_BYTES;
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'POST',
      headers: {
        ...headers,
        'content-length': String(length),
        'content-type': multipart ? `multipart/form-data; boundary=${boundary}` : 'application/octet-stream',
      },
    });
    request.on('response', (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () =>
        response.statusCode && response.statusCode < 300
          ? resolve(response.statusCode)
          : reject(new Error(`${response.statusCode} ${body}`)),
      );
    });
    request.on('error', reject);
    let sent = 0;
    const writeMore = (): void => {
      while (sent < TOTAL_BYTES) {
        const piece = TOTAL_BYTES - sent >= CHUNK.length ? CHUNK : CHUNK.subarray(0, TOTAL_BYTES - sent);
        sent += piece.length;
        if (!request.write(piece)) {
          request.once('drain', writeMore);
          return;
        }
      }
      request.end(multipart ? tail : undefined);
    };
    if (multipart) request.write(head);
    writeMore();
  });
}

async function measure(pid: number, upload: () => Promise<unknown>): Promise<Measurement> {
  const rssBefore = rssMiB(pid);
  let peak = rssBefore;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMiB(pid));
  }, 20);
  const started = performance.now();
  await upload();
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, rssMiB(pid));
  return { seconds, mbPerSecond: TOTAL_BYTES / MIB / seconds, rssBeforeMiB: rssBefore, rssPeakMiB: peak };
}

async function waitForLine(child: ChildProcess, pattern: RegExp): Promise<void> {
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) resolve();
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
  child.stdout?.resume();
}

async function benchIntake(): Promise<Measurement> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-bench-upload-'));
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/intake.js'), 'serve'], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      LOG_PRETTY: 'false',
      DATA_DIR: dataDir,
      PORT: String(port),
      MAX_UPLOAD_BYTES: String(TOTAL_BYTES + MIB),
      LOGIN_RATE_LIMIT_PER_IP: '1000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    // The API answers before its worker threads have loaded; measure once the process is settled.
    await waitForLine(child, /worker started/);
    const email = `bench-${Date.now()}@example.test`;
    const password = 'bench password 123';
    await fetch(`${base}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    const token = await fetch(`${base}/api/v1/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: email, password }).toString(),
    });
    const { access_token: accessToken } = (await token.json()) as { access_token: string };
    return await measure(child.pid!, () =>
      sendUpload(`${base}/api/v1/files?process=false`, { authorization: `Bearer ${accessToken}` }, true),
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The limit: receive, hash, write to disk, nothing else. Runs in its own process like Intake. */
const BASELINE_SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const crypto = require('node:crypto');
const { pipeline } = require('node:stream/promises');
const dir = process.argv[1];
const server = http.createServer(async (req, res) => {
  const hash = crypto.createHash('sha256');
  const target = dir + '/upload-' + Date.now();
  req.on('data', (chunk) => hash.update(chunk));
  await pipeline(req, fs.createWriteStream(target));
  res.end(hash.digest('hex'));
});
server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
`;

async function benchBaseline(): Promise<Measurement> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-bench-baseline-'));
  const child = spawn(process.execPath, ['-e', BASELINE_SERVER, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let port = 0;
  child.stdout?.on('data', (chunk: Buffer) => {
    const match = /listening (\d+)/.exec(chunk.toString());
    if (match) port = Number(match[1]);
  });
  try {
    await waitForLine(child, /listening \d+/);
    return await measure(child.pid!, () => sendUpload(`http://127.0.0.1:${port}/`, {}, false));
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function report(name: string, result: Measurement): void {
  console.log(
    `${name.padEnd(34)} ${result.mbPerSecond.toFixed(1).padStart(7)} MB/s  ${result.seconds.toFixed(2).padStart(6)} s  ` +
      `RSS ${result.rssBeforeMiB.toFixed(0)} → peak ${result.rssPeakMiB.toFixed(0)} MiB (growth ${(result.rssPeakMiB - result.rssBeforeMiB).toFixed(1)} MiB)`,
  );
}

console.log(`upload of ${TOTAL_BYTES / MIB} MiB over loopback, Node ${process.version}, ${os.cpus().length} cores`);
const baseline = await benchBaseline();
report('node:http hash + write (limit)', baseline);
const intake = await benchIntake();
report('intake POST /api/v1/files (local)', intake);
console.log(`intake reaches ${((intake.mbPerSecond / baseline.mbPerSecond) * 100).toFixed(0)}% of the limit's throughput`);
