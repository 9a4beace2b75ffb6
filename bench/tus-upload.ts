/**
 * Uploads one large file (1 GiB by default) to a real `intake serve` process twice: as one
 * multipart request (POST /api/v1/files) and as a tus resumable upload (POST /api/v1/uploads/tus,
 * then PATCH chunks of TUS_CHUNK_MIB, default the whole file in one PATCH as tus-js-client sends
 * it), and prints MB/s and the server's resident memory growth for each.
 *
 *   nice node --import tsx bench/tus-upload.ts               # 1 GiB
 *   UPLOAD_MIB=256 TUS_CHUNK_MIB=64 node --import tsx bench/tus-upload.ts
 *
 * The tus figure includes completion: the parts are read back and streamed through the same
 * inspection and hashing as a multipart upload into the file's blob. Loopback only; fresh
 * temporary directories, removed afterwards.
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

/** Streams a body of `total` bytes (multipart-wrapped or raw) from one reused buffer: the client holds no file. */
function sendUpload(
  url: string,
  headers: Record<string, string>,
  multipart: boolean,
  method = 'POST',
  total = TOTAL_BYTES,
): Promise<number> {
  const boundary = 'intake-bench-boundary';
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const length = multipart ? head.length + total + tail.length : total;
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method,
      headers: {
        'content-type': multipart ? `multipart/form-data; boundary=${boundary}` : 'application/octet-stream',
        ...headers,
        'content-length': String(length),
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
      while (sent < total) {
        const piece = total - sent >= CHUNK.length ? CHUNK : CHUNK.subarray(0, total - sent);
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

function report(name: string, result: Measurement): void {
  console.log(
    `${name.padEnd(34)} ${result.mbPerSecond.toFixed(1).padStart(7)} MB/s  ${result.seconds.toFixed(2).padStart(6)} s  ` +
      `RSS ${result.rssBeforeMiB.toFixed(0)} → peak ${result.rssPeakMiB.toFixed(0)} MiB (growth ${(result.rssPeakMiB - result.rssBeforeMiB).toFixed(1)} MiB)`,
  );
}

const TUS_CHUNK_BYTES = Number(process.env.TUS_CHUNK_MIB ?? 0) * MIB || TOTAL_BYTES;

async function tusUpload(base: string, authorization: string): Promise<void> {
  const created = await fetch(`${base}/api/v1/uploads/tus?process=false&allow_duplicate=true`, {
    method: 'POST',
    headers: {
      authorization,
      'tus-resumable': '1.0.0',
      'upload-length': String(TOTAL_BYTES),
      'upload-metadata': `filename ${Buffer.from('big.csv').toString('base64')},content_type ${Buffer.from('text/csv').toString('base64')}`,
    },
  });
  if (created.status !== 201) throw new Error(`tus create: ${created.status} ${await created.text()}`);
  const url = `${base}${created.headers.get('location')}`;
  for (let offset = 0; offset < TOTAL_BYTES; offset += TUS_CHUNK_BYTES) {
    const size = Math.min(TUS_CHUNK_BYTES, TOTAL_BYTES - offset);
    await sendUpload(
      url,
      {
        authorization,
        'tus-resumable': '1.0.0',
        'upload-offset': String(offset),
        'content-type': 'application/offset+octet-stream',
      },
      false,
      'PATCH',
      size,
    );
  }
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-bench-tus-'));
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
  const authorization = `Bearer ${accessToken}`;
  console.log(
    `upload of ${TOTAL_BYTES / MIB} MiB over loopback, Node ${process.version}, ${os.cpus().length} cores; ` +
      `tus chunks of ${TUS_CHUNK_BYTES / MIB} MiB`,
  );
  // Both uploads carry the same bytes: the tus one asks to keep its own file (allow_duplicate).
  report(
    'multipart POST /api/v1/files',
    await measure(child.pid!, () => sendUpload(`${base}/api/v1/files?process=false`, { authorization }, true)),
  );
  report('tus POST + PATCH /api/v1/uploads/tus', await measure(child.pid!, () => tusUpload(base, authorization)));
} finally {
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  fs.rmSync(dataDir, { recursive: true, force: true });
}
