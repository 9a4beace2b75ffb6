import type { Config } from './config/config.ts';
import { ShutdownSignals, type SignalSource } from './composition/shutdown-signals.ts';
import type { App } from './http/app-types.ts';

export interface RunningServer {
  readonly address: string;
  /** Resolves once the server has shut down, with the exit code the process should use. */
  readonly closed: Promise<number>;
  shutdown(reason: string): Promise<number>;
}

/**
 * Listens, and shuts down gracefully on SIGTERM/SIGINT (through ShutdownSignals): stop
 * accepting, let in-flight requests finish within the grace period, close the app (and with
 * it what the composition root built). A second signal, or the end of the grace period, ends
 * it at once. `signals` is the process unless a test passes its own.
 */
export async function startServer(app: App, config: Config, signals: SignalSource = process): Promise<RunningServer> {
  const shutdownSignals = new ShutdownSignals(signals);
  let address: string;
  try {
    address = await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    shutdownSignals.dispose();
    throw error;
  }
  let closing: Promise<number> | undefined;
  let resolveClosed!: (code: number) => void;
  const closed = new Promise<number>((resolve) => {
    resolveClosed = resolve;
  });

  const shutdown = (reason: string): Promise<number> => {
    closing ??= new Promise<number>((resolve) => {
      app.log.info({ reason, grace_ms: config.http.shutdownGraceMs }, 'shutting down: finishing in-flight requests');
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
      shutdownSignals.dispose();
      resolveClosed(code);
      return code;
    });
    return closing;
  };

  void shutdownSignals
    .handle({
      graceful: (signal) => shutdown(signal),
      immediate: (signal) => {
        app.log.warn({ signal }, 'second signal: exiting now');
        app.server.closeAllConnections();
        return 130;
      },
    })
    .then(resolveClosed);

  return { address, closed, shutdown };
}
