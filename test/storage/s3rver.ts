import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** s3rver's fixed development credentials: they only ever exist inside the emulator. */
export const S3RVER_ACCESS_KEY_ID = 'S3RVER';
export const S3RVER_SECRET_ACCESS_KEY = 'S3RVER';

export interface RunningS3rver {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts s3rver (an S3-compatible server on the file system, `@20minutes/s3rver` from npm) on a
 * free loopback port, in its own process and temporary directory, like Azurite. The bucket is
 * created at start: s3rver checks bucket-level requests against `/bucket` while the SDK signs
 * `/bucket/`, so its answer to CreateBucket is SignatureDoesNotMatch (docs/storage.md).
 */
export async function startS3rver(bucket: string): Promise<RunningS3rver> {
  const main = createRequire(import.meta.url).resolve('@20minutes/s3rver');
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-s3rver-'));
  // The package ships no runnable bin: a two-line launcher prints the bound address.
  const launcher = `
    const S3rver = require(${JSON.stringify(main)});
    new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: ${JSON.stringify(directory)},
      configureBuckets: [{ name: ${JSON.stringify(bucket)}, configs: [] }] })
      .run().then((address) => console.log('listening on ' + address.port));`;
  const child: ChildProcess = spawn(process.execPath, ['-e', launcher], { stdio: ['ignore', 'pipe', 'pipe'] });

  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /listening on (\d+)/.exec(output);
      if (match) {
        child.stdout?.off('data', onData);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}: ${output}`)));
    child.once('error', reject);
  });
  child.stdout?.resume();
  child.stderr?.resume();

  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await fs.rm(directory, { recursive: true, force: true });
    },
  };
}
