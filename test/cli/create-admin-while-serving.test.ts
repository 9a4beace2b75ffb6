import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/free-port.ts';

const BIN = path.resolve('bin/intake.js');

function runCreateAdmin(
  args: string[],
  env: NodeJS.ProcessEnv,
  password: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'create-admin', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(password);
  });
}

/**
 * PGlite lets one process open the data directory, so while `intake serve` runs,
 * `intake create-admin` goes through the server's first-run endpoint on loopback.
 * (With DATABASE_URL both open PostgreSQL and the command works directly.)
 */
describe.skipIf(process.env.DATABASE_URL)('intake create-admin while intake serve holds the embedded database', () => {
  let database: TestDatabase | undefined;
  let server: ChildProcessWithoutNullStreams | undefined;

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server?.on('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    await database?.close().catch(() => undefined);
  });

  it('creates the first administrator through the running server, then says clearly that setup is over', async () => {
    database = await createTestDatabase();
    await database.database.close();
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      DATA_DIR: database.dataDir,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_PRETTY: 'false',
      JOBS_WORKER_THREADS: '0',
    };
    const child = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    server = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('No administrator exists yet') && output.includes('listening on')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${output}`)));
    });

    const first = await runCreateAdmin(['--email', 'root@example.test', '--full-name', 'Root'], env, 'a long admin password\n');
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/^Created administrator root@example\.test \([0-9a-f-]{36}\), through the running server\./);

    const login = await fetch(`http://127.0.0.1:${port}/api/v1/auth/token`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'root@example.test', password: 'a long admin password' }),
    });
    expect(login.status).toBe(200);

    const second = await runCreateAdmin(['--email', 'other@example.test'], env, 'another long password\n');
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`is held by a running Intake server (process ${child.pid})`);
    expect(second.stderr).toContain('an administrator already exists');
    expect(second.stderr).toContain('stop the server');
  });
});
