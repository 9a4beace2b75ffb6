import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tus from 'tus-js-client';
import { generateFleetKeys } from '../../src/config/fleet-keys.ts';
import { spawnCli, type CliProcess, type LogLine } from '../helpers/cli-process.ts';
import { createTestDatabase, makeTempDir, type TestDatabase } from '../helpers/database.ts';
import { csvBytes, sha256, tusUpload } from './tus-client.ts';

const MIB = 1024 * 1024;
const onPostgres = Boolean(process.env.DATABASE_URL);
const title = onPostgres
  ? 'a tus upload begun on one `intake serve` process and finished on another'
  : 'a tus upload across `intake serve` processes: SKIPPED on PGlite, which one process alone opens (set DATABASE_URL)';

/**
 * Two real API processes on one PostgreSQL database and one storage directory, each with its own
 * DATA_DIR: the first takes the first chunk and is then killed (SIGKILL: nothing of the upload
 * can survive in its memory); the second answers the offset and takes the rest.
 */
describe.skipIf(!onPostgres)(title, () => {
  const processes: CliProcess[] = [];
  const directories: string[] = [];
  let database: TestDatabase | undefined;

  afterAll(async () => {
    for (const child of processes) child.signal('SIGKILL');
    await Promise.all(processes.map((child) => child.exited));
    await database?.close();
    for (const directory of directories) fs.rmSync(directory, { recursive: true, force: true });
  });

  it('goes on from the offset the killed process stored, to the same bytes, leaving no part behind', async () => {
    database = await createTestDatabase();
    const blobDir = makeTempDir('intake-tus-blobs');
    const dataDir = makeTempDir('intake-tus-data');
    directories.push(blobDir, dataDir);
    const prefix = `tus${Date.now().toString(36)}`;
    const secrets = Object.fromEntries(
      generateFleetKeys().map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    const shared = {
      NODE_ENV: 'test',
      DATABASE_URL: database.url,
      ...(process.env.REDIS_URL
        ? { REDIS_URL: process.env.REDIS_URL, REDIS_KEY_PREFIX: `${prefix}:`, JOBS_QUEUE_PREFIX: prefix }
        : {}),
      STORAGE_DRIVER: 'local',
      STORAGE_LOCAL_DIR: blobDir,
      MIGRATE_ON_BOOT: 'false',
      LOG_LEVEL: 'info',
      DATA_DIR_SHARED: '',
      PUBLIC_URL: 'http://127.0.0.1',
      ...secrets,
    };
    const serve = async (name: string) => {
      const directory = path.join(dataDir, name);
      fs.mkdirSync(directory);
      // PORT=0: the process takes a free port itself, which it names in its listening line.
      const child = spawnCli(['serve'], { ...shared, DATA_DIR: directory, PORT: '0' });
      processes.push(child);
      const listening = await child.waitForLine(
        (line: LogLine) => typeof line.msg === 'string' && line.msg.includes(' listening on '),
        'listening',
      );
      const origin = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(String(listening.msg))?.[1];
      if (!origin) throw new Error(`no address in: ${String(listening.msg)}`);
      return { child, origin };
    };
    const [first, second] = await Promise.all([serve('api1'), serve('api2')]);
    const storedParts = () => {
      const parts = path.join(blobDir, 'uploads');
      if (!fs.existsSync(parts)) return [];
      return fs.readdirSync(parts, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
    };

    const credentials = { email: `tus-${prefix}@example.com`, password: 'correct horse battery staple' };
    const registered = await fetch(`${first.origin}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(credentials),
    });
    expect(registered.status).toBe(201);
    const { access_token: token } = (await (
      await fetch(`${first.origin}/api/v1/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(credentials),
      })
    ).json()) as { access_token: string };
    const headers = { authorization: `Bearer ${token}` };

    const content = csvBytes(5 * MIB, `processes-${prefix}`);
    const url = await new Promise<string>((resolve, reject) => {
      const upload: tus.Upload = new tus.Upload(content, {
        endpoint: `${first.origin}/api/v1/uploads/tus?process=false`,
        headers,
        chunkSize: 2 * MIB,
        metadata: { filename: 'processes.csv', content_type: 'text/csv' },
        storeFingerprintForResuming: false,
        onChunkComplete: () => {
          void upload.abort().then(() => resolve(upload.url!));
        },
        onError: reject,
      });
      upload.start();
    });
    first.child.signal('SIGKILL');
    await first.child.exited;
    expect(storedParts()).toHaveLength(1);

    const uploadPath = new URL(url).pathname;
    const head = await fetch(`${second.origin}${uploadPath}`, {
      method: 'HEAD',
      headers: { ...headers, 'tus-resumable': '1.0.0' },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe(String(2 * MIB));

    const result = await tusUpload(content, {
      endpoint: `${second.origin}/api/v1/uploads/tus`,
      uploadUrl: `${second.origin}${uploadPath}`,
      headers,
    });
    const stored = await fetch(`${second.origin}/api/v1/files/${result.fileId}`, { headers });
    expect(stored.status).toBe(200);
    expect(await stored.json()).toMatchObject({ size_bytes: content.length, sha256: sha256(content), status: 'uploaded' });
    expect(storedParts()).toEqual([]);
  });
});
