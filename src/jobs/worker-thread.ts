// Runs inside a worker thread started by thread-executor.ts: job handlers execute here, off
// the API's event loop. The database is reached through the main thread (see docs/jobs.md).
import { parentPort, workerData } from 'node:worker_threads';
import { drizzle } from 'drizzle-orm/pg-proxy';
import { schema } from '../db/schema.ts';
import type { Db } from '../db/database.ts';
import { JobInterruptedError } from './job-definition.ts';
import type { JobRegistryFactory } from './job-registry.ts';
import type { ThreadRegistrySource } from './thread-executor.ts';
import { deserializeError, serializeError, type FromThread, type ToThread } from './thread-protocol.ts';

const port = parentPort;
if (!port) throw new Error('worker-thread must run in a worker thread');
const source = workerData as ThreadRegistrySource;

let nextRequest = 0;
const pending = new Map<number, { resolve(rows: unknown[]): void; reject(error: Error): void }>();
function request(
  message:
    Omit<Extract<FromThread, { kind: 'query' }>, 'requestId'> | Omit<Extract<FromThread, { kind: 'progress' }>, 'requestId'>,
): Promise<unknown[]> {
  const requestId = ++nextRequest;
  return new Promise((resolve, reject) => {
    pending.set(requestId, { resolve, reject });
    send({ ...message, requestId } as FromThread);
  });
}
function send(message: FromThread): void {
  port?.postMessage(message);
}

// A Drizzle database whose statements run on the main thread's connection. No transactions:
// each statement stands alone (use single-statement upserts for idempotent writes).
const db = drizzle(
  async (text, params, method) => ({
    rows: await request({ kind: 'query', text, params, rowMode: method === 'all' ? 'array' : 'object' }),
  }),
  {
    schema,
  },
) as unknown as Db;

const imported = (await import(source.module)) as Record<string, JobRegistryFactory | undefined>;
const factory = imported[source.exportName];
if (typeof factory !== 'function') throw new Error(`${source.module} does not export ${source.exportName}`);
const registry = factory(db, source.settings);
const running = new Map<number, AbortController>();

port.on('message', (message: ToThread) => {
  switch (message.kind) {
    case 'reply': {
      const waiter = pending.get(message.requestId);
      pending.delete(message.requestId);
      if (message.error) waiter?.reject(deserializeError(message.error));
      else waiter?.resolve(message.rows ?? []);
      break;
    }
    case 'abort': {
      running.get(message.callId)?.abort(new JobInterruptedError(message.reason));
      break;
    }
    case 'run': {
      const { callId, context } = message;
      const controller = new AbortController();
      running.set(callId, controller);
      const job = registry.get(context.type);
      Promise.resolve()
        .then(() => {
          if (!job) throw new Error(`no handler is registered for job type ${context.type} in the worker thread`);
          return job.handler(message.payload, {
            ...context,
            signal: controller.signal,
            progress: async (update) => {
              await request({
                kind: 'progress',
                callId,
                current: update.current,
                total: update.total ?? null,
                message: update.message ?? null,
              });
            },
            emit: (event) => send({ kind: 'emit', callId, event }),
          });
        })
        .then(
          (result) => send({ kind: 'done', callId, result }),
          (error: unknown) => send({ kind: 'failed', callId, error: serializeError(error) }),
        )
        .finally(() => running.delete(callId));
      break;
    }
  }
});

send({ kind: 'ready' });
