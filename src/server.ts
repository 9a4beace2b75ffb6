import type { EventEmitter } from 'node:events';
import type { Config } from './config/config.ts';
import type { App } from './http/app-types.ts';

export interface RunningServer {
  readonly address: string;
  /** Resolves once the server has shut down, with the exit code the process should use. */
  readonly closed: Promise<number>;
  shutdown(reason: string): Promise<number>;
}

type SignalSource = Pick<EventEmitter, 'on' | 'off'>;

/**
 * Listens, and turns SIGTERM/SIGINT into a graceful shutdown: stop accepting, let in-flight
 * requests finish within the grace period, close the database. A second signal, or the end of
 * the grace period, ends it at once. `signals` is the process unless a test passes its own.
 */
export async function startServer(app: App, config: Config, signals: SignalSource = process): Promise<RunningServer> {
  const address = await app.listen({ host: config.host, port: config.port });
  let closing: Promise<number> | undefined;
  let resolveClosed!: (code: number) => void;
  const closed = new Promise<number>((resolve) => {
    resolveClosed = resolve;
  });

  const shutdown = (reason: string): Promise<number> => {
    if (closing) return closing;
    app.log.info({ reason, grace_ms: config.http.shutdownGraceMs }, 'shutting down: finishing in-flight requests');
    closing = new Promise<number>((resolve) => {
      const timer = setTimeout(() => {
        app.log.warn('grace period over: closing the remaining connections');
        app.server.closeAllConnections();
        resolve(1);
      }, config.http.shutdownGraceMs);
      timer.unref();
      app.close().then(
        () => {
          clearTimeout(timer);
          app.log.info('shut down cleanly');
          resolve(0);
        },
        (error: unknown) => {
          clearTimeout(timer);
          app.log.error({ err: error }, 'error while shutting down');
          resolve(1);
        },
      );
    }).then((code) => {
      signals.off('SIGTERM', onSignal);
      signals.off('SIGINT', onSignal);
      resolveClosed(code);
      return code;
    });
    return closing;
  };

  let signalsSeen = 0;
  function onSignal(signal: NodeJS.Signals): void {
    signalsSeen += 1;
    if (signalsSeen > 1) {
      app.log.warn({ signal }, 'second signal: exiting now');
      app.server.closeAllConnections();
      resolveClosed(130);
      return;
    }
    void shutdown(signal);
  }
  signals.on('SIGTERM', onSignal);
  signals.on('SIGINT', onSignal);

  return { address, closed, shutdown };
}
