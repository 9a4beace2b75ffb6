import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { ShutdownSignals } from './composition/shutdown-signals.ts';
import type { Config } from './config/config.ts';
import type { RunningServer } from './server.ts';

/** What the primary tells a child over the IPC channel. */
const SHUTDOWN_MESSAGE = 'intake:shutdown';

/** A child that lived at least this long before dying is replaced at once; a quicker death backs off. */
const STABLE_AFTER_MS = 30_000;
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;

export interface ServeClusterOptions {
  processes: number;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Runs once in the primary before any child starts (migrations), so N children do not race for it. */
  prepare(): Promise<void>;
  /** In a child: starts one API process. */
  startChild(): Promise<RunningServer>;
}

/**
 * `intake serve --workers N`: N API processes sharing one listening port through node:cluster
 * (the primary accepts and hands connections round-robin). The primary runs no application
 * code: it migrates once, forks, replaces a child that dies (backing off when children die
 * young, so a crash loop does not spin), and on SIGTERM/SIGINT asks every child to shut down
 * gracefully, waiting for all of them.
 */
export async function runServeCluster(config: Config, options: ServeClusterOptions): Promise<number> {
  if (cluster.isWorker) return runChild(options);
  return runPrimary(config, options);
}

async function runChild(options: ServeClusterOptions): Promise<number> {
  const server = await options.startChild();
  const onMessage = (message: unknown) => {
    if (message === SHUTDOWN_MESSAGE) void server.shutdown('the primary process is shutting down');
  };
  // The primary is gone (killed): nobody hands this process connections any more.
  const onDisconnect = () => void server.shutdown('the primary process went away');
  process.on('message', onMessage);
  process.on('disconnect', onDisconnect);
  const code = await server.closed;
  process.off('message', onMessage);
  process.off('disconnect', onDisconnect);
  return code;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  startedAt: number;
  /** Consecutive deaths that came before STABLE_AFTER_MS. */
  quickDeaths: number;
  restartTimer: NodeJS.Timeout | undefined;
}

async function runPrimary(config: Config, options: ServeClusterOptions): Promise<number> {
  const { log } = options;
  const signals = new ShutdownSignals();
  try {
    await options.prepare();
  } catch (error) {
    signals.dispose();
    throw error;
  }
  let stopping = false;
  let failed = false;
  const slots: Slot[] = Array.from({ length: options.processes }, (_, index) => ({
    index,
    worker: undefined,
    startedAt: 0,
    quickDeaths: 0,
    restartTimer: undefined,
  }));
  let allGone!: () => void;
  const everyChildGone = new Promise<void>((resolve) => {
    allGone = resolve;
  });

  const fork = (slot: Slot): void => {
    slot.restartTimer = undefined;
    // Migrated by the primary already; the children must not each try again.
    const worker = cluster.fork({ MIGRATE_ON_BOOT: 'false', INTAKE_PROCESS_INDEX: String(slot.index) });
    slot.worker = worker;
    slot.startedAt = Date.now();
    worker.once('exit', (code, signal) => {
      slot.worker = undefined;
      if (stopping && code !== 0) failed = true;
      if (stopping) {
        log.info({ child_pid: worker.process.pid, slot: slot.index, code, signal }, 'API process stopped');
      } else {
        const lived = Date.now() - slot.startedAt;
        slot.quickDeaths = lived >= STABLE_AFTER_MS ? 0 : slot.quickDeaths + 1;
        const delay = slot.quickDeaths === 0 ? 0 : Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (slot.quickDeaths - 1));
        log.warn(
          { child_pid: worker.process.pid, slot: slot.index, code, signal, restart_in_ms: delay },
          'API process exited unexpectedly; starting a replacement',
        );
        slot.restartTimer = setTimeout(() => fork(slot), delay);
      }
      if (stopping && slots.every((candidate) => candidate.worker === undefined)) allGone();
    });
    worker.once('online', () => log.info({ child_pid: worker.process.pid, slot: slot.index }, 'API process started'));
  };

  for (const slot of slots) fork(slot);
  log.info(
    { pid: process.pid, processes: options.processes, port: config.port },
    `serving with ${options.processes} API processes on one port`,
  );

  const stopAll = async (signal: NodeJS.Signals): Promise<number> => {
    stopping = true;
    log.info({ signal, processes: options.processes }, 'shutting down: asking every API process to finish');
    for (const slot of slots) clearTimeout(slot.restartTimer);
    const running = slots.flatMap((slot) => (slot.worker ? [slot.worker] : []));
    if (running.length === 0) return failed ? 1 : 0;
    for (const worker of running) {
      if (worker.isConnected()) worker.send(SHUTDOWN_MESSAGE);
      else worker.process.kill('SIGTERM');
    }
    // Each child has its own grace period (SHUTDOWN_GRACE_MS, then its workers'); this is the backstop.
    const backstop = setTimeout(
      () => {
        log.warn('API processes still running after their grace period: killing them');
        for (const worker of running) worker.process.kill('SIGKILL');
      },
      config.http.shutdownGraceMs + config.jobs.shutdownGraceMs + 5_000,
    );
    backstop.unref();
    await everyChildGone;
    clearTimeout(backstop);
    log.info('every API process stopped');
    return failed ? 1 : 0;
  };

  return signals.handle({
    graceful: stopAll,
    immediate(signal) {
      log.warn({ signal }, 'second signal: killing the API processes now');
      for (const slot of slots) slot.worker?.process.kill('SIGKILL');
      return 130;
    },
  });
}
