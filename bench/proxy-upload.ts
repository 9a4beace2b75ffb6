/**
 * Uploads one large file (1 GiB by default) through deploy/nginx.conf (Debian's nginx, the
 * config the tests run) to a real `intake serve` process, and directly to that process, and
 * prints MB/s and the peak resident memory (VmHWM) of nginx's workers and of Intake.
 *
 *   node --import tsx bench/proxy-upload.ts              # 1 GiB
 *   UPLOAD_MIB=256 node --import tsx bench/proxy-upload.ts
 *
 * Loopback only; temporary directories are removed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../test/helpers/free-port.ts';
import { NGINX, startProxy } from '../test/deploy/nginx.ts';

const MIB = 1024 * 1024;
const TOTAL_BYTES = Number(process.env.UPLOAD_MIB ?? 1024) * MIB;
const CHUNK = Buffer.from('id,name,value\n'.padEnd(64 * 1024 - 1, 'x') + '\n');
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function memoryKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : NaN;
}

/** Resets a process's peak RSS to its current RSS (Linux: write 5 to clear_refs), so VmHWM measures one upload. */
function resetPeak(pid: number): void {
  fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

function sendUpload(url: string, token: string): Promise<void> {
  const boundary = 'intake-bench-boundary';
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-length': String(head.length + TOTAL_BYTES + tail.length),
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
    });
    request.on('response', (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => (response.statusCode === 201 ? resolve() : reject(new Error(`${response.statusCode} ${body}`))));
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
      request.end(tail);
    };
    request.write(head);
    writeMore();
  });
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

interface Figures {
  seconds: number;
  intakeRssBeforeMiB: number;
  intakePeakMiB: number;
  nginxRssBeforeMiB: number;
  nginxPeakMiB: number;
}

async function measure(intakePid: number, nginxPids: number[], upload: () => Promise<void>): Promise<Figures> {
  for (const pid of [intakePid, ...nginxPids]) resetPeak(pid);
  const intakeRssBefore = memoryKiB(intakePid, 'VmRSS');
  const nginxRssBefore = nginxPids.reduce((sum, pid) => sum + memoryKiB(pid, 'VmRSS'), 0);
  const started = performance.now();
  await upload();
  const seconds = (performance.now() - started) / 1000;
  return {
    seconds,
    intakeRssBeforeMiB: intakeRssBefore / 1024,
    intakePeakMiB: memoryKiB(intakePid, 'VmHWM') / 1024,
    nginxRssBeforeMiB: nginxRssBefore / 1024,
    // One worker takes the upload; the largest peak is the one that matters.
    nginxPeakMiB: Math.max(0, ...nginxPids.map((pid) => memoryKiB(pid, 'VmHWM'))) / 1024,
  };
}

if (!fs.existsSync(NGINX)) {
  console.error(`${NGINX} is missing: apt-get install nginx`);
  process.exit(2);
}
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-bench-proxy-'));
const proxyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-bench-nginx-'));
const port = await freePort();
const intake = spawn(process.execPath, [path.join(ROOT, 'bin/intake.js'), 'serve'], {
  env: {
    PATH: process.env.PATH,
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    LOG_PRETTY: 'false',
    DATA_DIR: dataDir,
    PORT: String(port),
    TRUST_PROXY: 'true',
    MAX_UPLOAD_BYTES: String(TOTAL_BYTES + MIB),
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
const proxy = await startProxy({ upstream: `127.0.0.1:${port}`, maxUploadBytes: TOTAL_BYTES + MIB, directory: proxyDir });
try {
  await waitForLine(intake, /worker started/);
  const base = `http://127.0.0.1:${port}`;
  const email = `bench-${Date.now()}@example.test`;
  const password = 'bench password 123';
  await fetch(`${base}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const tokenAnswer = await fetch(`${base}/api/v1/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: email, password }).toString(),
  });
  const { access_token: token } = (await tokenAnswer.json()) as { access_token: string };

  console.log(`upload of ${TOTAL_BYTES / MIB} MiB over loopback, Node ${process.version}, ${os.cpus().length} cores, ${NGINX}`);
  const report = (name: string, figures: Figures, viaProxy: boolean) =>
    console.log(
      `${name.padEnd(22)} ${(TOTAL_BYTES / MIB / figures.seconds).toFixed(1).padStart(7)} MB/s ${figures.seconds.toFixed(2).padStart(7)} s  ` +
        `intake RSS ${figures.intakeRssBeforeMiB.toFixed(0)} → peak ${figures.intakePeakMiB.toFixed(0)} MiB` +
        (viaProxy
          ? `  nginx workers RSS ${figures.nginxRssBeforeMiB.toFixed(1)} MiB, peak of the busiest ${figures.nginxPeakMiB.toFixed(1)} MiB`
          : ''),
    );
  const nginxWorkers = proxy.workerPids();
  report(
    'direct to intake',
    await measure(intake.pid!, [], () => sendUpload(`${base}/api/v1/files?process=false`, token)),
    false,
  );
  report(
    'through nginx',
    await measure(intake.pid!, nginxWorkers, () => sendUpload(`${proxy.url}/api/v1/files?process=false`, token)),
    true,
  );
  const spooled = fs.existsSync(path.join(proxyDir, 'client_body'))
    ? fs.readdirSync(path.join(proxyDir, 'client_body')).length
    : 0;
  console.log(
    `nginx client_body temp files left: ${spooled}; error log mentions spooling: ${/buffered to a temporary file/.test(proxy.errorLog())}`,
  );
} finally {
  await proxy.stop();
  intake.kill('SIGTERM');
  await new Promise((resolve) => intake.once('exit', resolve));
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(proxyDir, { recursive: true, force: true });
}
