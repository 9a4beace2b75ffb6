/**
 * Realtime capacity and latency of one API process, on loopback. The server runs in a child
 * process (so its RSS is its own); this process opens the client sockets.
 *   1. Ramp: authenticated sockets (first-message auth, subscribed to `user`) in steps of
 *      WS_STEP up to WS_MAX (default 5,000) or the first failure; server RSS per socket.
 *   2. Latency: with WS_LATENCY_SOCKETS (default 1,000; a list such as 10000,1000 measures each,
 *      largest first, closing sockets in between) subscribed sockets, the server publishes
 *      WS_EVENTS `job.progress` events (one every WS_INTERVAL_MS, default 50) on its event bus; the delay from each
 *      publish to its arrival at every socket, p50/p99/max.
 * Embedded (PGlite, in-process bus) by default; with REDIS_URL the bus is Redis pub/sub.
 *
 *   node --import tsx bench/ws.ts             # WS_MAX=5000 WS_STEP=500 WS_LATENCY_SOCKETS=1000 WS_EVENTS=100 WS_INTERVAL_MS=50
 *   WS_SERVER_PROFILE_DIR=/tmp/prof node --import tsx bench/ws.ts   # also a CPU profile of the server process
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import WebSocket from 'ws';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config/config.ts';
import { createEventBus } from '../src/events/create-event-bus.ts';
import { EVENT_VERSION } from '../src/events/realtime-events.ts';
import { writeBenchResult } from './result-file.ts';

/** This process's descriptor limit (/proc/self/limits), which its server child shares. */
function openFileLimit(): number {
  try {
    const line = fs
      .readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith('Max open files'));
    return Number(line?.split(/\s{2,}/)[1] ?? Infinity);
  } catch {
    return Infinity;
  }
}
const REQUESTED_MAX = Number(process.env.WS_MAX ?? 5000);
// Each end holds one descriptor per socket: the ramp stops short of the limit instead of failing.
const MAX = Math.min(REQUESTED_MAX, openFileLimit() - 500);
if (MAX < REQUESTED_MAX) console.log(`ramp capped at ${MAX} sockets by the descriptor limit (${openFileLimit()})`);
const STEP = Number(process.env.WS_STEP ?? 500);
const LATENCY_SOCKETS = (process.env.WS_LATENCY_SOCKETS ?? '1000')
  .split(',')
  .map(Number)
  .sort((a, b) => b - a);
const EVENTS = Number(process.env.WS_EVENTS ?? 100);
const INTERVAL_MS = Number(process.env.WS_INTERVAL_MS ?? 50);
const PASSWORD = 'benchmark password 1';

type ToServer = { kind: 'rss' } | { kind: 'publish'; count: number; intervalMs: number } | { kind: 'stop' };
type FromServer =
  | { kind: 'ready'; url: string; token: string }
  | { kind: 'rss'; rss: number; heap: number }
  | { kind: 'published'; publishMs: number[] };

const now = () => performance.timeOrigin + performance.now();

interface LatencyFigures {
  sockets: number;
  deliveries: number;
  expected: number;
  p50: number | null;
  p99: number | null;
}

async function server(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-bench-ws-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    REDIS_URL: process.env.REDIS_URL,
    REDIS_KEY_PREFIX: `intake-bench:${process.pid}:`,
    JOBS_QUEUE_PREFIX: `intake-bench-${process.pid}`,
    LOGIN_RATE_LIMIT_PER_IP: '1000000',
    REGISTER_RATE_LIMIT_PER_IP: '1000000',
    // The ramp authenticates thousands of sockets at once; the auth deadline is not under test.
    WS_AUTH_TIMEOUT_MS: '600000',
  });
  const eventBus = await createEventBus(config, pino({ level: 'warn' }));
  const app = await buildApp(config, { eventBus });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const email = `bench-${process.pid}@example.test`;
  await fetch(`${address}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  const login = await fetch(`${address}/api/v1/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: email, password: PASSWORD }).toString(),
  });
  const { access_token: token } = (await login.json()) as { access_token: string };
  const me = (await (await fetch(`${address}/api/v1/users/me`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
    id: string;
  };
  const send = (message: FromServer) => process.send?.(message);
  process.on('message', async (message: ToServer) => {
    if (message.kind === 'rss') {
      global.gc?.();
      const usage = process.memoryUsage();
      send({ kind: 'rss', rss: usage.rss, heap: usage.heapUsed + usage.external + usage.arrayBuffers });
    } else if (message.kind === 'publish') {
      const publishMs: number[] = [];
      for (let index = 0; index < message.count; index += 1) {
        const started = performance.now();
        await eventBus.publish({
          type: 'job.progress',
          $version: EVENT_VERSION,
          owner_id: me.id,
          job_id: '00000000-0000-4000-8000-000000000000',
          file_id: null,
          // The publish time travels in the message; the client subtracts it on arrival.
          progress: { current: index, total: message.count, percent: null, message: String(now()) },
        });
        // In-process bus: the publish returns once every socket's frame is written (the server's fan-out time).
        publishMs.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, message.intervalMs));
      }
      send({ kind: 'published', publishMs });
    } else {
      await app.close();
      await eventBus.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    }
  });
  send({ kind: 'ready', url: address.replace('http', 'ws'), token });
}

async function client(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ['server'], {
    execArgv: [
      '--import',
      'tsx',
      '--expose-gc',
      ...(process.env.WS_SERVER_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.WS_SERVER_PROFILE_DIR}`] : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const replies: ((message: FromServer) => void)[] = [];
  child.on('message', (message: FromServer) => replies.shift()?.(message));
  const ask = (message: ToServer | undefined) =>
    new Promise<FromServer>((resolve) => {
      replies.push(resolve);
      if (message) child.send(message);
    });
  const ready = (await ask(undefined)) as Extract<FromServer, { kind: 'ready' }>;
  const rss = async () => (await ask({ kind: 'rss' })) as Extract<FromServer, { kind: 'rss' }>;
  const sockets: WebSocket[] = [];
  const delays: number[] = [];
  let measuring = false;

  function open(): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`${ready.url}/api/v1/ws`);
      const fail = (error: Error) => reject(error);
      socket.once('error', fail);
      socket.once('close', (code, reason) => reject(new Error(`closed ${code} ${reason.toString()}`)));
      socket.once('open', () => socket.send(JSON.stringify({ type: 'auth', token: ready.token })));
      socket.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { type: string; progress?: { message: string } };
        if (frame.type === 'auth.ok') socket.send(JSON.stringify({ type: 'subscribe', channel: 'user' }));
        else if (frame.type === 'subscribed') {
          socket.off('error', fail);
          socket.removeAllListeners('close');
          resolve(socket);
        } else if (frame.type === 'job.progress' && measuring && frame.progress)
          delays.push(now() - Number(frame.progress.message));
      });
    });
  }

  const baseline = await rss();
  console.log(
    `server before any socket: RSS ${(baseline.rss / 1048576).toFixed(1)} MiB, JS heap + buffers ${(baseline.heap / 1048576).toFixed(1)} MiB`,
  );
  console.log(
    '\n| sockets | server RSS | RSS growth per socket | JS heap + buffers per socket | ramp step time |\n| ---: | ---: | ---: | ---: | ---: |',
  );
  console.log(
    '(per socket: growth since the first step, divided by the sockets added since; PGlite frees its first-start memory meanwhile)',
  );
  let failure: string | undefined;
  let first: { sockets: number; rss: number; heap: number } | undefined;
  while (sockets.length < MAX && !failure) {
    const started = performance.now();
    const batch = await Promise.allSettled(Array.from({ length: Math.min(STEP, MAX - sockets.length) }, open));
    for (const result of batch) {
      if (result.status === 'fulfilled') sockets.push(result.value);
      else failure ??= String(result.reason);
    }
    const current = await rss();
    first ??= { sockets: sockets.length, rss: current.rss, heap: current.heap };
    const added = sockets.length - first.sockets;
    const perSocket = (bytes: number) => (added > 0 ? `${(bytes / added / 1024).toFixed(1)} KiB` : '–');
    console.log(
      `| ${sockets.length} | ${(current.rss / 1048576).toFixed(1)} MiB | ${perSocket(current.rss - first.rss)} | ${perSocket(current.heap - first.heap)} | ${((performance.now() - started) / 1000).toFixed(1)} s |`,
    );
  }
  if (failure) console.log(`stopped at the first failure: ${failure}`);
  const maxHeld = sockets.length;

  // Latency with each count of subscribed sockets, largest first: close the rest.
  const latencies: LatencyFigures[] = [];
  for (const count of LATENCY_SOCKETS) {
    for (const socket of sockets.splice(count)) socket.terminate();
    await new Promise((resolve) => setTimeout(resolve, 500));
    delays.length = 0;
    measuring = true;
    const { publishMs } = (await ask({ kind: 'publish', count: EVENTS, intervalMs: INTERVAL_MS })) as Extract<
      FromServer,
      { kind: 'published' }
    >;
    await new Promise((resolve) => setTimeout(resolve, 500));
    measuring = false;
    delays.sort((a, b) => a - b);
    const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))]?.toFixed(2);
    console.log(
      `\nlatency publish → arrival, ${sockets.length} sockets × ${EVENTS} events (${delays.length} deliveries, ${sockets.length * EVENTS} expected): p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${delays.at(-1)?.toFixed(2)} ms`,
    );
    publishMs.sort((a, b) => a - b);
    const pub = (q: number) => publishMs[Math.min(publishMs.length - 1, Math.floor(q * publishMs.length))]?.toFixed(2);
    console.log(
      `server time in publish() per event (the whole fan-out with the in-process bus): p50 ${pub(0.5)} ms, p99 ${pub(0.99)} ms`,
    );
    latencies.push({
      sockets: sockets.length,
      deliveries: delays.length,
      expected: sockets.length * EVENTS,
      p50: delays.length ? Number(at(0.5)) : null,
      p99: delays.length ? Number(at(0.99)) : null,
    });
  }
  // The smallest count stays in the top-level fields (what earlier readers of the result read).
  const smallest = latencies.at(-1);
  writeBenchResult({
    socketsHeld: maxHeld,
    failure: failure ?? (MAX < REQUESTED_MAX ? `capped by the descriptor limit at ${MAX}` : null),
    latencySockets: smallest?.sockets ?? 0,
    deliveries: smallest?.deliveries ?? 0,
    expected: smallest?.expected ?? 0,
    p50: smallest?.p50 ?? null,
    p99: smallest?.p99 ?? null,
    latencies,
  });
  for (const socket of sockets) socket.terminate();
  child.send({ kind: 'stop' } satisfies ToServer);
}

if (process.argv[2] === 'server') await server();
else await client();
