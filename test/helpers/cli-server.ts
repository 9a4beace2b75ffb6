import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const BIN = path.resolve('bin/intake.js');

export interface CliServer {
  origin: string;
  child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** Resolves once a line containing `text` has been printed. */
  waitFor(text: string): Promise<void>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Runs `intake serve` as its own process (PORT=0 unless given) and waits for its listening line. */
export async function startCliServer(env: NodeJS.ProcessEnv, cwd = process.cwd()): Promise<CliServer> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd,
    // One process alone on its DATA_DIR: its generated keys need no sharing, even on PostgreSQL.
    env: { PORT: '0', LOG_PRETTY: 'false', DATA_DIR_SHARED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters: { text: string; resolve(): void }[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const onData = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const waiter of waiters.filter((candidate) => output.includes(candidate.text))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const waitFor = (text: string): Promise<void> =>
    output.includes(text)
      ? Promise.resolve()
      : Promise.race([
          new Promise<void>((resolve) => waiters.push({ text, resolve })),
          exited.then((code) => {
            throw new Error(`intake serve exited (${code}) before printing "${text}":\n${output}`);
          }),
        ]);

  await waitFor(' listening on ');
  const origin = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
  if (!origin) throw new Error(`no address in: ${output}`);
  return {
    origin,
    child,
    output: () => output,
    waitFor,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
