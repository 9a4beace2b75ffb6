import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { MemoryEventBus } from '../../src/events/memory-event-bus.ts';
import type { EventBus } from '../../src/events/event-bus.ts';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { freePort } from '../helpers/free-port.ts';
import { silentLog } from '../jobs/queue-harness.ts';

const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));
export const CONSOLE_DIST = path.join(CONSOLE_DIR, 'dist');

/**
 * Builds console/dist when it is missing or older than a source (npm install's `prepare` builds
 * it once; an edit since then must not be tested against the old bundle).
 */
export async function ensureConsoleBuilt(): Promise<void> {
  const built = await stat(path.join(CONSOLE_DIST, 'index.html')).then(
    (info) => info.mtimeMs,
    () => 0,
  );
  const sources = [
    path.join(CONSOLE_DIR, 'index.html'),
    path.join(CONSOLE_DIR, 'vite.config.ts'),
    ...(await readdir(path.join(CONSOLE_DIR, 'src'), { recursive: true })).map((name) => path.join(CONSOLE_DIR, 'src', name)),
  ];
  const newest = Math.max(...(await Promise.all(sources.map(async (source) => (await stat(source)).mtimeMs))));
  if (built >= newest) return;
  await build({ configFile: path.join(CONSOLE_DIR, 'vite.config.ts'), logLevel: 'warn' });
}

export interface ConsoleServer {
  origin: string;
  subject: TestApp;
  close(): Promise<void>;
}

/**
 * The product as `intake serve` runs it in the embedded mode: the API on a real port serving the
 * built console at `/` (CONSOLE_DIR defaults to console/dist), and a worker beside it sharing the in-process event bus (Redis carries events when
 * REDIS_URL is set). PUBLIC_URL is the served origin, so the WebSocket accepts the cookie.
 */
export async function startConsoleServer(env: Record<string, string> = {}, knownPort?: number): Promise<ConsoleServer> {
  await ensureConsoleBuilt();
  // A test passes the port when something else must know the origin first (an issuer's redirect URI).
  const port = knownPort ?? (await freePort());
  const origin = `http://127.0.0.1:${port}`;
  const bus: EventBus | undefined = process.env.REDIS_URL ? undefined : new MemoryEventBus(silentLog);
  const subject = await createTestApp({
    env: { PUBLIC_URL: origin, JOBS_POLL_INTERVAL_MS: '50', ...env },
    overrides: bus ? { eventBus: bus } : {},
  });
  let worker: WorkerRuntime | undefined;
  try {
    await subject.app.listen({ host: '127.0.0.1', port });
    worker = await buildWorker(subject.config, { database: subject.database, log: silentLog, ...(bus ? { eventBus: bus } : {}) });
  } catch (error) {
    await subject.close();
    throw error;
  }
  return {
    origin,
    subject,
    async close() {
      await worker?.close(1000);
      await subject.close();
      await bus?.close();
    },
  };
}
