import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tus from 'tus-js-client';
import { buildApp } from '../../src/app.ts';
import type { App } from '../../src/http/app-types.ts';
import { QuotaService } from '../../src/quotas/quota.service.ts';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { createBlobStore } from '../../src/storage/create-blob-store.ts';
import { sweepTusUploads } from '../../src/uploads/tus-uploads.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { freePort } from '../helpers/free-port.ts';
import { csvBytes, sha256, startRelay, tusUpload } from './tus-client.ts';
import { startAzurite, type RunningAzurite } from '../storage/azurite.ts';
import { S3RVER_ACCESS_KEY_ID, S3RVER_SECRET_ACCESS_KEY, startS3rver, type RunningS3rver } from '../storage/s3rver.ts';

const MIB = 1024 * 1024;
const EXPIRY_SECONDS = 3600;

interface Driver {
  name: string;
  /** The size of the interrupted upload: 200 MiB on disk; smaller on the emulators (Azurite keeps blobs in memory). */
  bigBytes: number;
  env(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

let azurite: RunningAzurite | undefined;
let s3rver: RunningS3rver | undefined;
const drivers: Driver[] = [
  { name: 'local', bigBytes: 200 * MIB, env: async () => ({ STORAGE_DRIVER: 'local' }), stop: async () => undefined },
  {
    name: 'azure (Azurite)',
    bigBytes: 24 * MIB,
    env: async () => {
      azurite ??= await startAzurite();
      return {
        STORAGE_DRIVER: 'azure',
        AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
        AZURE_STORAGE_CONTAINER: `tus-${Date.now().toString(36)}`,
      };
    },
    stop: async () => {
      await azurite?.stop();
      azurite = undefined;
    },
  },
  {
    name: 's3 (s3rver)',
    bigBytes: 24 * MIB,
    env: async () => {
      const bucket = `tus-${Date.now().toString(36)}`;
      s3rver = await startS3rver(bucket);
      return {
        STORAGE_DRIVER: 's3',
        S3_ENDPOINT: s3rver.endpoint,
        S3_BUCKET: bucket,
        S3_ACCESS_KEY_ID: S3RVER_ACCESS_KEY_ID,
        S3_SECRET_ACCESS_KEY: S3RVER_SECRET_ACCESS_KEY,
      };
    },
    stop: async () => {
      await s3rver?.stop();
      s3rver = undefined;
    },
  },
];

describe.each(drivers)('tus uploads on $name storage', (driver) => {
  let subject: TestApp;
  let blobs: BlobStore;
  let base: string;
  let port: number;
  let alice: TestUser;

  beforeAll(async () => {
    port = await freePort();
    subject = await createTestApp({
      env: {
        ...(await driver.env()),
        MAX_UPLOAD_BYTES: String(256 * MIB),
        TUS_UPLOAD_EXPIRY_SECONDS: String(EXPIRY_SECONDS),
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
      },
    });
    blobs = await createBlobStore(subject.config.storage);
    base = await subject.app.listen({ host: '127.0.0.1', port });
    alice = await subject.createUser();
  });

  afterAll(async () => {
    await blobs?.close();
    await subject?.close();
    await driver.stop();
  });

  async function file(user: TestUser, id: string) {
    const response = await subject.app.inject({ method: 'GET', url: `/api/v1/files/${id}`, headers: user.bearer });
    expect(response.statusCode).toBe(200);
    return response.json();
  }

  function create(user: TestUser, length: number, extra: Record<string, string> = {}) {
    return fetch(`${base}/api/v1/uploads/tus?process=false`, {
      method: 'POST',
      headers: {
        ...user.bearer,
        'tus-resumable': '1.0.0',
        'upload-length': String(length),
        'upload-metadata': `filename ${Buffer.from('a.csv').toString('base64')},content_type ${Buffer.from('text/csv').toString('base64')}`,
        ...extra,
      },
    });
  }

  async function partKeys(user: TestUser): Promise<string[]> {
    const keys: string[] = [];
    for await (const blob of blobs.list(`uploads/${user.id}/`)) keys.push(blob.key);
    return keys;
  }

  it(`resumes an upload cut twice mid-chunk to the same bytes (${driver.bigBytes / MIB} MiB)`, async () => {
    const content = csvBytes(driver.bigBytes, `big-${driver.name}`);
    const relay = await startRelay(port);
    try {
      relay.cutAfter([Math.floor(driver.bigBytes * 0.3), Math.floor(driver.bigBytes * 0.4)]);
      let restarts = 0;
      const result = await tusUpload(content, {
        endpoint: `http://127.0.0.1:${relay.port}/api/v1/uploads/tus?process=false`,
        headers: alice.bearer,
        onShouldRetry: () => {
          restarts += 1;
          return true;
        },
      });
      expect(restarts).toBeGreaterThanOrEqual(2);
      expect(result.fileId).toEqual(expect.any(String));
      const stored = await file(alice, result.fileId!);
      expect(stored).toMatchObject({ size_bytes: content.length, sha256: sha256(content), status: 'uploaded' });
      expect(await partKeys(alice)).toEqual([]);
    } finally {
      await relay.close();
    }
  });

  it('resumes against another API process on the same database and storage', async () => {
    const content = csvBytes(3 * MIB, `fleet-${driver.name}`);
    const secondPort = await freePort();
    const second: App = await buildApp(subject.config, { database: subject.database, signingKeys: subject.signingKeys });
    try {
      const secondBase = await second.listen({ host: '127.0.0.1', port: secondPort });
      // The first process takes one chunk, then the client stops.
      const url = await new Promise<string>((resolve, reject) => {
        const upload: tus.Upload = new tus.Upload(content, {
          endpoint: `${base}/api/v1/uploads/tus?process=false`,
          headers: alice.bearer,
          chunkSize: MIB,
          metadata: { filename: 'fleet.csv', content_type: 'text/csv' },
          storeFingerprintForResuming: false,
          onChunkComplete: () => {
            void upload.abort().then(() => resolve(upload.url!));
          },
          onError: reject,
        });
        upload.start();
      });
      const path = new URL(url).pathname;
      const head = await fetch(`${secondBase}${path}`, {
        method: 'HEAD',
        headers: { ...alice.bearer, 'tus-resumable': '1.0.0' },
      });
      expect(head.status).toBe(200);
      expect(head.headers.get('upload-offset')).toBe(String(MIB));
      const result = await tusUpload(content, {
        endpoint: `${secondBase}/api/v1/uploads/tus`,
        uploadUrl: `${secondBase}${path}`,
        headers: alice.bearer,
      });
      expect((await file(alice, result.fileId!)).sha256).toBe(sha256(content));
    } finally {
      await second.close();
    }
  });

  it('refuses at creation an upload over the size limit or the quota', async () => {
    const tooLarge = await create(alice, 256 * MIB + 1);
    expect(tooLarge.status).toBe(413);
    expect(((await tooLarge.json()) as { code: string }).code).toBe('file_too_large');

    const admin = await subject.createUser({ role: 'admin' });
    const carol = await subject.createUser();
    await subject.app.inject({
      method: 'PUT',
      url: `/api/v1/users/${carol.id}/quota`,
      headers: admin.bearer,
      payload: { max_bytes: 1000 },
    });
    const overQuota = await create(carol, 2000);
    expect(overQuota.status).toBe(413);
    expect(await overQuota.json()).toMatchObject({ code: 'quota_exceeded', limit: 'bytes', limit_value: 1000 });
    const fits = await create(carol, 1000);
    expect(fits.status).toBe(201);
    // The length is reserved at creation: a second upload cannot take it too.
    expect((await create(carol, 10)).status).toBe(413);
  });

  it('refuses a chunk whose checksum does not match, keeping nothing of it', async () => {
    const content = csvBytes(4096, `checksum-${driver.name}`);
    const created = await create(alice, content.length);
    expect(created.status).toBe(201);
    const url = `${base}${created.headers.get('location')}`;
    const patch = (checksum: Buffer) =>
      fetch(url, {
        method: 'PATCH',
        headers: {
          ...alice.bearer,
          'tus-resumable': '1.0.0',
          'upload-offset': '0',
          'content-type': 'application/offset+octet-stream',
          'upload-checksum': `sha256 ${checksum.toString('base64')}`,
        },
        body: content,
      });
    const wrong = await patch(createHash('sha256').update('something else').digest());
    expect(wrong.status).toBe(460);
    expect(((await wrong.json()) as { code: string }).code).toBe('checksum_mismatch');
    const head = await fetch(url, { method: 'HEAD', headers: { ...alice.bearer, 'tus-resumable': '1.0.0' } });
    expect(head.headers.get('upload-offset')).toBe('0');

    const right = await patch(createHash('sha256').update(content).digest());
    expect(right.status).toBe(204);
    expect(right.headers.get('upload-offset')).toBe(String(content.length));
    expect((await file(alice, right.headers.get('intake-file-id')!)).sha256).toBe(sha256(content));
  });

  async function usage(user: TestUser): Promise<{ bytes: number; files: number }> {
    return (await subject.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: user.bearer })).json().quota.usage;
  }

  it("answers someone else's upload with 404, and terminates one's own, giving its reservation back", async () => {
    const bob = await subject.createUser();
    const before = await usage(alice);
    const created = await create(alice, 100);
    expect(await usage(alice)).toEqual({ bytes: before.bytes + 100, files: before.files + 1 });
    const url = `${base}${created.headers.get('location')}`;
    for (const method of ['HEAD', 'PATCH', 'DELETE']) {
      const response = await fetch(url, {
        method,
        headers: {
          ...bob.bearer,
          'tus-resumable': '1.0.0',
          'upload-offset': '0',
          'content-type': 'application/offset+octet-stream',
        },
        ...(method === 'PATCH' ? { body: 'name\n' } : {}),
      });
      expect(response.status, method).toBe(404);
    }
    const anonymous = await fetch(url, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0' } });
    expect(anonymous.status).toBe(401);
    const terminated = await fetch(url, { method: 'DELETE', headers: { ...alice.bearer, 'tus-resumable': '1.0.0' } });
    expect(terminated.status).toBe(204);
    expect(await usage(alice)).toEqual(before);
    const gone = await fetch(url, { method: 'HEAD', headers: { ...alice.bearer, 'tus-resumable': '1.0.0' } });
    expect(gone.status).toBe(404);
  });

  it('sweeps an expired upload: its bytes and its reservation go', async () => {
    const dave = await subject.createUser();
    const created = await create(dave, 10_000);
    const url = `${base}${created.headers.get('location')}`;
    const patched = await fetch(url, {
      method: 'PATCH',
      headers: {
        ...dave.bearer,
        'tus-resumable': '1.0.0',
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
      },
      body: csvBytes(5000, 'expiring'),
    });
    expect(patched.status).toBe(204);
    expect(await partKeys(dave)).toHaveLength(1);
    const me = () => usage(dave);
    expect(await me()).toEqual({ bytes: 10_000, files: 1 });

    const quotas = new QuotaService(subject.database.db, { bytes: null, files: null });
    const early = await sweepTusUploads(subject.database.db, blobs, quotas, new Date());
    expect(early.expiredUploads).toBe(0);
    const later = new Date(Date.now() + (EXPIRY_SECONDS + 60) * 1000);
    const swept = await sweepTusUploads(subject.database.db, blobs, quotas, later);
    expect(swept.expiredUploads).toBeGreaterThanOrEqual(1);
    expect(await partKeys(dave)).toEqual([]);
    expect(await me()).toEqual({ bytes: 0, files: 0 });
    const gone = await fetch(url, { method: 'HEAD', headers: { ...dave.bearer, 'tus-resumable': '1.0.0' } });
    expect(gone.status).toBe(404);
  });
});
