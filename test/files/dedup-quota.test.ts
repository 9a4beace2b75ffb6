import { createHash } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { createBlobStore } from '../../src/storage/create-blob-store.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { freePort } from '../helpers/free-port.ts';
import { multipartBody } from './multipart.ts';

const QUOTA_BYTES = 64 * 1024;
const QUOTA_FILES = 20;

function sha256(content: Buffer | string): string {
  return createHash('sha256').update(content).digest('hex');
}

/** A CSV of exactly `bytes` bytes whose content is unique to `tag`. */
function csvOf(bytes: number, tag: string): string {
  const head = `name,tag\n${tag},x\n`;
  return head + 'a,b\n'.repeat(Math.floor((bytes - head.length) / 4)) + 'z'.repeat((bytes - head.length) % 4);
}

describe('deduplication and quotas', () => {
  let subject: TestApp;
  let blobs: BlobStore;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    subject = await createTestApp({
      env: {
        STORAGE_DRIVER: 'local',
        QUOTA_BYTES_PER_USER: String(QUOTA_BYTES),
        QUOTA_FILES_PER_USER: String(QUOTA_FILES),
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
      },
    });
    blobs = await createBlobStore(subject.config.storage);
    await subject.app.listen({ host: '127.0.0.1', port });
  });

  afterAll(async () => {
    await blobs?.close();
    await subject?.close();
  });

  function upload(user: TestUser, content: string, query = '', filename = 'data.csv') {
    const { body, contentType } = multipartBody([{ filename, contentType: 'text/csv', content }]);
    return subject.app.inject({
      method: 'POST',
      url: `/api/v1/files${query}`,
      headers: { ...user.bearer, 'content-type': contentType },
      payload: body,
    });
  }

  /** The same upload over a real socket: requests sent together really run together. */
  async function uploadOverSocket(user: TestUser, content: string) {
    const { body, contentType } = multipartBody([{ filename: 'data.csv', contentType: 'text/csv', content }]);
    const response = await fetch(`http://127.0.0.1:${port}/api/v1/files`, {
      method: 'POST',
      headers: { ...user.bearer, 'content-type': contentType },
      body,
    });
    return {
      status: response.status,
      body: (await response.json()) as { items?: { id: string; duplicate_of: string | null }[]; code?: string },
    };
  }

  async function blobKeys(user: TestUser): Promise<string[]> {
    const keys: string[] = [];
    for await (const blob of blobs.list(`files/${user.id}/`)) keys.push(blob.key);
    return keys;
  }

  async function me(user: TestUser) {
    const response = await subject.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: user.bearer });
    expect(response.statusCode).toBe(200);
    return response.json().quota as { usage: { bytes: number; files: number }; limits: { bytes: number; files: number } };
  }

  async function directUpload(user: TestUser, content: string, query = '') {
    const start = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/uploads',
      headers: user.bearer,
      payload: { filename: 'direct.csv', content_type: 'text/csv', size_bytes: Buffer.byteLength(content) },
    });
    if (start.statusCode !== 201) return { start, complete: undefined, fileId: undefined };
    const { file_id, upload_url, method, headers } = start.json();
    expect((await fetch(upload_url, { method, headers, body: content })).status).toBeLessThan(300);
    const complete = await subject.app.inject({
      method: 'POST',
      url: `/api/v1/files/${file_id}/complete${query}`,
      headers: user.bearer,
    });
    return { start, complete, fileId: file_id as string };
  }

  it('answers a multipart upload of bytes the account already has with the existing file, storing nothing', async () => {
    const alice = await subject.createUser();
    const content = csvOf(1000, 'dup');
    const first = await upload(alice, content);
    expect(first.statusCode).toBe(201);
    const original = first.json().items[0];
    expect(original.duplicate_of).toBeNull();
    expect(original.job_id).toEqual(expect.any(String));

    const again = await upload(alice, content, '', 'renamed.csv');
    expect(again.statusCode).toBe(200);
    expect(again.json().items[0]).toMatchObject({
      id: original.id,
      duplicate_of: original.id,
      job_id: null,
      filename: 'data.csv',
      sha256: sha256(content),
    });
    expect(await blobKeys(alice)).toEqual([`files/${alice.id}/${original.id}/original`]);
    expect((await me(alice)).usage).toEqual({ bytes: 1000, files: 1 });

    const kept = await upload(alice, content, '?allow_duplicate=true');
    expect(kept.statusCode).toBe(201);
    expect(kept.json().items[0].id).not.toBe(original.id);
    expect(kept.json().items[0].duplicate_of).toBeNull();
    expect((await me(alice)).usage).toEqual({ bytes: 2000, files: 2 });
  });

  it('shares and reveals nothing across accounts', async () => {
    const alice = await subject.createUser();
    const bob = await subject.createUser();
    const content = csvOf(500, 'shared');
    const mine = (await upload(alice, content)).json().items[0];
    const theirs = await upload(bob, content);
    expect(theirs.statusCode).toBe(201);
    expect(theirs.json().items[0].id).not.toBe(mine.id);
    expect(theirs.json().items[0].duplicate_of).toBeNull();
    expect(await blobKeys(bob)).toHaveLength(1);
  });

  it('answers the second of two equal parts in one request with the first', async () => {
    const alice = await subject.createUser();
    const content = csvOf(300, 'twins');
    const { body, contentType } = multipartBody([
      { filename: 'a.csv', contentType: 'text/csv', content },
      { filename: 'b.csv', contentType: 'text/csv', content },
    ]);
    const response = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/files',
      headers: { ...alice.bearer, 'content-type': contentType },
      payload: body,
    });
    expect(response.statusCode).toBe(201);
    const [first, second] = response.json().items;
    expect(second).toMatchObject({ id: first.id, duplicate_of: first.id });
    expect(await blobKeys(alice)).toHaveLength(1);
  });

  it('ends concurrent uploads of the same new bytes by one account as one file, the others its duplicates, one blob', async () => {
    const alice = await subject.createUser();
    // Small enough that all of them fit the quota while in flight.
    const content = csvOf(5_000, 'same-moment');
    // Real sockets, all at once: each streams and hashes its bytes before any of them commits.
    const answers = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const answer = await uploadOverSocket(alice, content);
        expect(answer.body.items, JSON.stringify(answer.body)).toHaveLength(1);
        return { status: answer.status, item: answer.body.items![0]! };
      }),
    );
    const created = answers.filter((answer) => answer.status === 201);
    expect(created).toHaveLength(1);
    const original = created[0]!.item;
    expect(original.duplicate_of).toBeNull();
    for (const answer of answers.filter((other) => other !== created[0])) {
      expect(answer.status).toBe(200);
      expect(answer.item).toMatchObject({ id: original.id, duplicate_of: original.id });
    }
    expect(await blobKeys(alice)).toEqual([`files/${alice.id}/${original.id}/original`]);
    expect((await me(alice)).usage).toEqual({ bytes: 5_000, files: 1 });
  });

  it('drops a completed direct upload whose bytes the account already has', async () => {
    const alice = await subject.createUser();
    const content = csvOf(800, 'direct');
    const original = (await upload(alice, content)).json().items[0];
    const { complete, fileId } = await directUpload(alice, content);
    expect(complete!.statusCode).toBe(200);
    expect(complete!.json()).toMatchObject({ id: original.id, duplicate_of: original.id, job_id: null });
    const gone = await subject.app.inject({ method: 'GET', url: `/api/v1/files/${fileId}`, headers: alice.bearer });
    expect(gone.statusCode).toBe(404);
    expect(await blobKeys(alice)).toEqual([`files/${alice.id}/${original.id}/original`]);
    expect((await me(alice)).usage).toEqual({ bytes: 800, files: 1 });

    const kept = await directUpload(alice, content, '?allow_duplicate=true');
    expect(kept.complete!.statusCode).toBe(200);
    expect(kept.complete!.json()).toMatchObject({ id: kept.fileId, duplicate_of: null });
  });

  it('refuses with 413 quota_exceeded, naming limit and usage, an upload the quota cannot hold, and stores nothing', async () => {
    const alice = await subject.createUser();
    expect(await me(alice)).toMatchObject({ usage: { bytes: 0, files: 0 }, limits: { bytes: QUOTA_BYTES, files: QUOTA_FILES } });
    expect((await upload(alice, csvOf(40_000, 'big-1'))).statusCode).toBe(201);

    const refused = await upload(alice, csvOf(30_000, 'big-2'));
    expect(refused.statusCode).toBe(413);
    expect(refused.json()).toMatchObject({
      code: 'quota_exceeded',
      limit: 'bytes',
      limit_value: QUOTA_BYTES,
      usage: { bytes: 40_000, files: 1 },
    });
    expect(await blobKeys(alice)).toHaveLength(1);
    expect((await me(alice)).usage).toEqual({ bytes: 40_000, files: 1 });

    // Size known up front: a direct upload is refused before any URL is handed out.
    const direct = await directUpload(alice, csvOf(30_000, 'big-3'));
    expect(direct.start.statusCode).toBe(413);
    expect(direct.start.json().code).toBe('quota_exceeded');
    expect((await me(alice)).usage).toEqual({ bytes: 40_000, files: 1 });
  });

  it('stops an upload of unknown size as soon as it crosses the quota', async () => {
    const alice = await subject.createUser();
    const { body, contentType } = multipartBody([
      { filename: 'stream.csv', contentType: 'text/csv', content: csvOf(QUOTA_BYTES + 10_000, 'chunked') },
    ]);
    // Chunked transfer: no Content-Length, so only the bytes themselves can tell.
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/v1/files',
          headers: { ...alice.bearer, 'content-type': contentType, 'transfer-encoding': 'chunked' },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        },
      );
      request.on('error', reject);
      for (let offset = 0; offset < body.length; offset += 4096) request.write(body.subarray(offset, offset + 4096));
      request.end();
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'quota_exceeded', limit: 'bytes' });
    expect(await blobKeys(alice)).toHaveLength(0);
    expect((await me(alice)).usage).toEqual({ bytes: 0, files: 0 });
  });

  it('lets concurrent uploads take no more than the quota between them', async () => {
    const alice = await subject.createUser();
    const size = 20_000;
    // Real sockets, all at once, for an account with no quota row yet (its first uploads).
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, index) => uploadOverSocket(alice, csvOf(size, `race-${index}`))),
    );
    const stored = answers.filter((answer) => answer.status === 201);
    const refused = answers.filter((answer) => answer.status !== 201);
    expect(stored.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(stored.length * size).toBeLessThanOrEqual(QUOTA_BYTES);
    for (const answer of refused) expect(answer.body.code).toBe('quota_exceeded');
    const quota = await me(alice);
    expect(quota.usage).toEqual({ bytes: stored.length * size, files: stored.length });
    expect(await blobKeys(alice)).toHaveLength(stored.length);
  });

  it('lets an admin set an account its own limits; deleting gives the quota back', async () => {
    const admin = await subject.createUser({ role: 'admin' });
    const alice = await subject.createUser();
    const forbidden = await subject.app.inject({
      method: 'PUT',
      url: `/api/v1/users/${alice.id}/quota`,
      headers: alice.bearer,
      payload: { max_files: 100 },
    });
    expect(forbidden.statusCode).toBe(403);
    const set = await subject.app.inject({
      method: 'PUT',
      url: `/api/v1/users/${alice.id}/quota`,
      headers: admin.bearer,
      payload: { max_files: 1, max_bytes: 1_000_000 },
    });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toMatchObject({ limits: { files: 1, bytes: 1_000_000 }, overrides: { files: 1, bytes: 1_000_000 } });
    expect((await me(alice)).limits).toEqual({ files: 1, bytes: 1_000_000 });

    const first = await upload(alice, csvOf(100, 'one'));
    expect(first.statusCode).toBe(201);
    const second = await upload(alice, csvOf(100, 'two'));
    expect(second.statusCode).toBe(413);
    expect(second.json()).toMatchObject({ code: 'quota_exceeded', limit: 'files', limit_value: 1, usage: { files: 1 } });

    const id = first.json().items[0].id;
    expect((await subject.app.inject({ method: 'DELETE', url: `/api/v1/files/${id}`, headers: alice.bearer })).statusCode).toBe(
      204,
    );
    expect((await me(alice)).usage).toEqual({ bytes: 0, files: 0 });
    expect((await upload(alice, csvOf(100, 'two'))).statusCode).toBe(201);

    const unknown = await subject.app.inject({
      method: 'PUT',
      url: '/api/v1/users/00000000-0000-4000-8000-000000000000/quota',
      headers: admin.bearer,
      payload: { max_files: null },
    });
    expect(unknown.statusCode).toBe(404);
  });
});
