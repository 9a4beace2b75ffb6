import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { MemoryEventBus } from '../../src/events/memory-event-bus.ts';
import type { EventBus } from '../../src/events/event-bus.ts';
import type { App } from '../../src/http/app-types.ts';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { freePort } from '../helpers/free-port.ts';
import { silentLog } from '../jobs/queue-harness.ts';

const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));
export const CONSOLE_DIST = path.join(CONSOLE_DIR, 'dist');

/** The policy the console must work under: nothing inline, nothing from another origin. */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const ASSET_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};

/**
 * Builds console/dist when it is missing or older than a source (npm install's `prepare` builds
 * it once; an edit since then must not be tested against the old bundle).
 */
export async function ensureConsoleBuilt(): Promise<void> {
  const built = await stat(path.join(CONSOLE_DIST, 'index.html')).then((info) => info.mtimeMs, () => 0);
  const sources = [
    path.join(CONSOLE_DIR, 'index.html'),
    path.join(CONSOLE_DIR, 'vite.config.ts'),
    ...(await readdir(path.join(CONSOLE_DIR, 'src'), { recursive: true })).map((name) => path.join(CONSOLE_DIR, 'src', name)),
  ];
  const newest = Math.max(...(await Promise.all(sources.map(async (source) => (await stat(source)).mtimeMs))));
  if (built >= newest) return;
  await build({ configFile: path.join(CONSOLE_DIR, 'vite.config.ts'), logLevel: 'warn' });
}

/**
 * Serves the built console at `/` when the app does not serve it itself (the `api` branch adds
 * that to buildApp). Kept to what the test needs: the page and its hashed assets, under the strict
 * policy, so a console that relies on inline script or another origin fails here.
 */
function serveConsole(app: App): void {
  app.get('/', { schema: { hide: true } }, async (_request, reply) =>
    reply
      .header('Content-Security-Policy', CONSOLE_CSP)
      .type(ASSET_TYPES['.html'] ?? 'text/html')
      .send(await readFile(path.join(CONSOLE_DIST, 'index.html'))),
  );
  app.get<{ Params: { name: string } }>('/assets/:name', { schema: { hide: true } }, async (request, reply) => {
    const name = path.basename(request.params.name);
    const type = ASSET_TYPES[path.extname(name)];
    if (!type) return reply.code(404).send();
    const body = await readFile(path.join(CONSOLE_DIST, 'assets', name)).catch(() => null);
    if (!body) return reply.code(404).send();
    return reply.header('Content-Security-Policy', CONSOLE_CSP).type(type).send(body);
  });
}

export interface ConsoleServer {
  origin: string;
  subject: TestApp;
  close(): Promise<void>;
}

/**
 * The product as `intake serve` runs it in the embedded mode: the API on a real port, the console
 * at `/`, and a worker beside it sharing the in-process event bus (Redis carries events when
 * REDIS_URL is set). PUBLIC_URL is the served origin, so the WebSocket accepts the cookie.
 */
export async function startConsoleServer(env: Record<string, string> = {}): Promise<ConsoleServer> {
  await ensureConsoleBuilt();
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const bus: EventBus | undefined = process.env.REDIS_URL ? undefined : new MemoryEventBus();
  const subject = await createTestApp({
    env: { PUBLIC_URL: origin, JOBS_POLL_INTERVAL_MS: '50', ...env },
    overrides: bus ? { eventBus: bus } : {},
    routes: (app) => {
      if (!app.hasRoute({ method: 'GET', url: '/' })) serveConsole(app);
    },
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
