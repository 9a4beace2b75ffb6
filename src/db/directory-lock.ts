import fs from 'node:fs';
import path from 'node:path';

export interface DirectoryLock {
  release(): void;
}

/** Another live process holds the lock (for PGlite: a running `intake serve`). */
export class DirectoryInUseError extends Error {
  constructor(
    readonly directory: string,
    readonly holderPid: number,
    options?: ErrorOptions,
  ) {
    super(
      `${directory} is in use by process ${holderPid}; the embedded database allows one process at a time ` +
        '(stop it, or set DATABASE_URL to share a PostgreSQL server)',
      options,
    );
    this.name = 'DirectoryInUseError';
  }
}

/**
 * An exclusive lock file holding our pid. A lock whose process is gone (a crash, SIGKILL)
 * is taken over, so a crash never needs manual clean-up.
 */
export function acquireDirectoryLock(directory: string, name: string): DirectoryLock {
  fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
  const file = path.join(directory, `${name}.lock`);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o600 });
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          fs.rmSync(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(fs.readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
        throw new DirectoryInUseError(directory, holder, { cause: error });
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new Error(`could not lock ${file}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
