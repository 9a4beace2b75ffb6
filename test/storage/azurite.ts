import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';

/** Azurite's published development account; it only ever exists inside the emulator. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface RunningAzurite {
  blobEndpoint: string;
  connectionString: string;
  stop(): Promise<void>;
}

/**
 * Starts Azurite's blob service from node_modules on a free loopback port. In-memory unless a
 * directory is given (the bench writes to disk, like a real account would).
 */
export interface AzuriteOptions {
  /** A directory to persist into; in memory otherwise. */
  location?: string;
  /** Serve HTTPS with this certificate and accept Entra ID bearer tokens (checked for shape, not signature). */
  tls?: { certFile: string; keyFile: string };
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const packageJson = createRequire(import.meta.url).resolve('azurite/package.json');
  const entry = path.join(path.dirname(packageJson), 'dist', 'src', 'blob', 'main.js');
  const workDir = options.location ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'intake-azurite-')));
  const args = [entry, '--blobHost', '127.0.0.1', '--blobPort', '0', '--skipApiVersionCheck', '--disableTelemetry', '--silent'];
  args.push(...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']));
  if (options.tls) args.push('--cert', options.tls.certFile, '--key', options.tls.keyFile, '--oauth', 'basic');
  const child: ChildProcess = spawn(process.execPath, args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });

  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /listens on https?:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        child.stdout?.off('data', onData);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`Azurite exited with ${code}: ${output}`)));
    child.once('error', reject);
  });
  // Keep draining its output so a full pipe never blocks it.
  child.stdout?.resume();
  child.stderr?.resume();

  const blobEndpoint = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    blobEndpoint,
    connectionString: `DefaultEndpointsProtocol=${options.tls ? 'https' : 'http'};AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      if (!options.location) await fs.rm(workDir, { recursive: true, force: true });
    },
  };
}
