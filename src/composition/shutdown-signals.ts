import type { EventEmitter } from 'node:events';

export type SignalSource = Pick<EventEmitter, 'on' | 'off'>;

export interface ShutdownHandlers {
  /** The first SIGTERM/SIGINT: stop gracefully; resolves with the exit code. */
  graceful(signal: NodeJS.Signals): Promise<number>;
  /** A second signal while the graceful stop runs: cut what is left; returns the exit code. */
  immediate(signal: NodeJS.Signals): number;
}

/**
 * The one place that turns SIGTERM/SIGINT into a shutdown, for `serve`, `worker` and the
 * embedded mode alike. Listening starts at once: a signal that arrives while the process is
 * still starting is kept and acted on as soon as `handle` is given the handlers, instead of
 * killing the process with the default action. `source` is the process unless a test passes
 * its own.
 */
export class ShutdownSignals {
  private handlers: ShutdownHandlers | undefined;
  private readonly pending: NodeJS.Signals[] = [];
  private seen = 0;
  private graceful: Promise<number> | undefined;
  private settle!: (code: number) => void;
  /** Resolves with the exit code once a signal-driven shutdown has finished (or been cut short). */
  readonly done = new Promise<number>((resolve) => {
    this.settle = resolve;
  });

  constructor(private readonly source: SignalSource = process) {
    this.source.on('SIGTERM', this.onSignal);
    this.source.on('SIGINT', this.onSignal);
  }

  handle(handlers: ShutdownHandlers): Promise<number> {
    this.handlers = handlers;
    for (const signal of this.pending.splice(0)) this.onSignal(signal);
    return this.done;
  }

  /** Stops listening (after a shutdown that did not come from a signal, or in tests). */
  dispose(): void {
    this.source.off('SIGTERM', this.onSignal);
    this.source.off('SIGINT', this.onSignal);
  }

  private readonly onSignal = (signal: NodeJS.Signals): void => {
    const handlers = this.handlers;
    if (!handlers) {
      this.pending.push(signal);
      return;
    }
    this.seen += 1;
    if (this.seen > 1) {
      this.dispose();
      this.settle(handlers.immediate(signal));
      return;
    }
    this.graceful ??= handlers.graceful(signal).then(
      (code) => {
        this.dispose();
        this.settle(code);
        return code;
      },
      () => {
        this.dispose();
        this.settle(1);
        return 1;
      },
    );
  };
}
