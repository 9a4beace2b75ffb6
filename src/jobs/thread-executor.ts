import { Worker } from 'node:worker_threads';
import type { Database } from '../db/database.ts';
import { JobInterruptedError, type JobContext } from './job-definition.ts';
import type { JobExecutor } from './job-executor.ts';
import type { JobLogger } from './job-queue.ts';
import type { RegisteredJob } from './job-registry.ts';
import { deserializeError, serializeError, type FromThread, type ToThread } from './thread-protocol.ts';

/**
 * Where a thread finds its handlers: a module exporting a `JobRegistryFactory`, chosen by the
 * composition root, and the settings passed to it (plain data: they cross into the thread by
 * copy, so only what the handlers need, never the whole configuration).
 */
export interface ThreadRegistrySource {
  /** A file: URL. */
  module: string;
  exportName: string;
  settings: unknown;
}

export interface ThreadExecutorOptions {
  threads: number;
  registry: ThreadRegistrySource;
  /** Where the threads' database statements run. */
  database: Pick<Database, 'query'>;
  log: JobLogger;
  /**
   * Start the threads when the first job arrives instead of at once: a process that serves the
   * API and runs jobs (`intake serve`) then holds no thread, with its own copy of the handlers
   * and parsers, until there is work. A thread that cannot start fails that job's attempt.
   */
  startOnFirstJob?: boolean;
}

interface Call {
  context: JobContext;
  resolve(result: unknown): void;
  reject(error: Error): void;
}

interface Thread {
  worker: Worker;
  calls: Map<number, Call>;
  ready: Promise<void>;
}

/**
 * Runs handlers in worker threads so that a CPU-heavy parse does not stall the API. The main
 * thread keeps the database and the queue (claims, leases, results); a thread asks it to run
 * statements and write progress over its MessagePort.
 */
export function createThreadExecutor(options: ThreadExecutorOptions): JobExecutor {
  const threads: Thread[] = [];
  let nextCall = 0;
  let closed = false;
  const bootstrap = threadBootstrap(siblingModule('./worker-thread.ts', import.meta.url));

  function spawn(): Thread {
    const worker = new Worker(bootstrap, {
      eval: true,
      workerData: options.registry,
    });
    const calls = new Map<number, Call>();
    let started = false;
    let gone = false;
    let markReady!: () => void;
    let markBroken!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = () => {
        started = true;
        resolve();
      };
      markBroken = reject;
    });
    // Observed here so a thread that never starts is no unhandled rejection; `fail` logs it.
    ready.catch(() => undefined);
    const thread: Thread = { worker, calls, ready };
    const post = (message: ToThread) => worker.postMessage(message);
    worker.on('message', (message: FromThread) => {
      switch (message.kind) {
        case 'ready':
          markReady();
          break;
        case 'done':
          calls.get(message.callId)?.resolve(message.result);
          calls.delete(message.callId);
          break;
        case 'failed':
          calls.get(message.callId)?.reject(deserializeError(message.error));
          calls.delete(message.callId);
          break;
        case 'query':
          // Started from the check phase, after the event loop has polled for I/O: a port's
          // messages are all handled in one go, so a thread that keeps statements queued (the
          // record writer pipelines them) would otherwise run one after another on an embedded
          // database, which executes on this thread, and hold every request until they stop.
          setImmediate(() =>
            options.database.query(message.text, message.params, message.rowMode).then(
              ({ rows }) => post({ kind: 'reply', requestId: message.requestId, rows }),
              (error: unknown) => post({ kind: 'reply', requestId: message.requestId, error: serializeError(error) }),
            ),
          );
          break;
        case 'progress': {
          const call = calls.get(message.callId);
          const write = call
            ? call.context.progress({ current: message.current, total: message.total, message: message.message })
            : Promise.resolve();
          write.then(
            () => post({ kind: 'reply', requestId: message.requestId }),
            (error: unknown) => post({ kind: 'reply', requestId: message.requestId, error: serializeError(error) }),
          );
          break;
        }
        case 'emit':
          calls.get(message.callId)?.context.emit(message.event);
          break;
      }
    });
    const fail = (error: Error) => {
      if (gone) return;
      gone = true;
      markBroken(error);
      for (const call of calls.values()) call.reject(error);
      calls.clear();
      const index = threads.indexOf(thread);
      if (index >= 0) threads.splice(index, 1);
      // A thread that crashed while running is replaced (its jobs failed transiently and are
      // retried); one that could not even start would only crash again, so it is not.
      if (!closed && started) threads.push(spawn());
      else if (!closed) options.log.error({ err: error }, 'job worker thread failed to start; jobs will fail until restarted');
    };
    worker.on('error', (error) => {
      options.log.error({ err: error }, 'job worker thread crashed');
      fail(error);
    });
    worker.on('exit', (code) => {
      if (!closed) fail(new Error(`job worker thread exited with code ${code}`));
    });
    return thread;
  }

  const spawnAll = () => {
    for (let index = 0; index < Math.max(1, options.threads); index += 1) threads.push(spawn());
  };
  let spawned = !options.startOnFirstJob;
  if (spawned) spawnAll();
  const spawnOnce = () => {
    if (spawned || closed) return;
    spawned = true;
    spawnAll();
  };
  const allReady = async () => {
    await Promise.all(threads.map((thread) => thread.ready));
  };

  return {
    ready: allReady,
    async start(): Promise<void> {
      spawnOnce();
      await allReady();
    },
    async execute(job: RegisteredJob, payload: unknown, context: JobContext): Promise<unknown> {
      spawnOnce();
      // The least busy thread: jobs are async, so a thread interleaves several while they wait on I/O.
      if (threads.length === 0) throw new Error('no job worker thread is running');
      const thread = threads.reduce((best, candidate) => (candidate.calls.size < best.calls.size ? candidate : best));
      await thread.ready;
      const callId = ++nextCall;
      return new Promise((resolve, reject) => {
        thread.calls.set(callId, { context, resolve, reject });
        const { signal } = context;
        const onAbort = () => {
          const reason = signal.reason instanceof JobInterruptedError ? signal.reason.stopReason : 'cancel';
          thread.worker.postMessage({ kind: 'abort', callId, reason } satisfies ToThread);
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
        thread.worker.postMessage({
          kind: 'run',
          callId,
          payload,
          context: {
            jobId: context.jobId,
            type: job.definition.name,
            attempt: context.attempt,
            maxAttempts: context.maxAttempts,
            ownerId: context.ownerId,
            fileId: context.fileId,
            ...(context.traceparent ? { traceparent: context.traceparent } : {}),
          },
        } satisfies ToThread);
      });
    },
    async close() {
      closed = true;
      await Promise.all(threads.map((thread) => thread.worker.terminate()));
    },
  };
}

/**
 * The URL of a module next to `base`, named by its source path. Compiled (dist/*.js) the
 * module is the emitted `.js`; run from the sources through tsx it is the `.ts` itself.
 */
export function siblingModule(sourcePath: string, base: string): string {
  const extension = base.endsWith('.ts') ? '.ts' : '.js';
  return new URL(sourcePath.replace(/\.ts$/, extension), base).href;
}

/** From the sources the thread registers tsx's loader before importing the entry; compiled it imports it directly. */
function threadBootstrap(entry: string): string {
  if (!entry.endsWith('.ts')) return `import(${JSON.stringify(entry)});`;
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
}
