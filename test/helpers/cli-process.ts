import { spawn, type ChildProcess } from 'node:child_process';
import { BIN } from './cli-server.ts';

/** One JSON log line (pino) of a CLI process; lines that are not JSON are kept as `msg`. */
export type LogLine = Record<string, unknown> & { msg?: string; pid?: number };

export interface CliProcess {
  child: ChildProcess;
  readonly lines: readonly LogLine[];
  output(): string;
  /** Resolves with the first line (already printed or to come) that matches; rejects if the process exits first. */
  waitForLine(match: (line: LogLine) => boolean, what: string): Promise<LogLine>;
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string | null>;
  signal(signal: NodeJS.Signals): void;
}

/**
 * Runs `intake <args>` as its own process with LOG_PRETTY=false and parses its JSON log lines,
 * so that a test waits for what the process says rather than for time to pass.
 */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  return spawnLogged([BIN, ...args], env);
}

/** `node <argv>` with the same log reading as `spawnCli` (a test's own entry point, e.g. `--import tsx file.ts`). */
export function spawnLogged(argv: string[], env: NodeJS.ProcessEnv): CliProcess {
  const args = argv;
  const child = spawn(process.execPath, argv, {
    env: { ...process.env, LOG_PRETTY: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let output = '';
  let pending: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  const waiters: { match(line: LogLine): boolean; resolve(line: LogLine): void }[] = [];
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const onLine = (text: string) => {
    let line: LogLine;
    try {
      const parsed: unknown = JSON.parse(text);
      line = typeof parsed === 'object' && parsed !== null ? (parsed as LogLine) : { msg: text };
    } catch {
      line = { msg: text };
    }
    lines.push(line);
    for (const waiter of waiters.filter((candidate) => candidate.match(line))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  };
  const reader = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    output += chunk.toString();
    const text = pending[stream] + chunk.toString();
    const parts = text.split('\n');
    pending = { ...pending, [stream]: parts.pop() ?? '' };
    for (const part of parts) if (part.trim() !== '') onLine(part);
  };
  child.stdout?.on('data', reader('stdout'));
  child.stderr?.on('data', reader('stderr'));
  return {
    child,
    lines,
    output: () => output,
    exited,
    waitForLine(match, what) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return Promise.race([
        new Promise<LogLine>((resolve) => waiters.push({ match, resolve })),
        exited.then((code) => {
          throw new Error(`intake ${args.join(' ')} exited (${code}) before ${what}:\n${output}`);
        }),
      ]);
    },
    signal(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Whether a process with this pid still exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
