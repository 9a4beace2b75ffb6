import { createHash, randomUUID } from 'node:crypto';
import net from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileService } from '../../src/files/file.service.ts';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { createBlobStore } from '../../src/storage/create-blob-store.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { startAzurite, type RunningAzurite } from '../storage/azurite.ts';
import { allowingDuplicates, CSV_SAMPLE, multipartBody, PNG_SIGNATURE, type PartSpec } from './multipart.ts';
import { freePort } from '../helpers/free-port.ts';

const MAX_UPLOAD_BYTES = 64 * 1024;

interface Driver {
  name: string;
  env(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

let azurite: RunningAzurite | undefined;
const drivers: Driver[] = [
  { name: 'local', env: async () => ({ STORAGE_DRIVER: 'local' }), stop: async () => undefined },
  {
    name: 'azure (Azurite)',
    env: async () => {
      azurite ??= await startAzurite();
      return {
        STORAGE_DRIVER: 'azure',
        AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
        AZURE_STORAGE_CONTAINER: `files-${Date.now().toString(36)}`,
      };
    },
    stop: async () => {
      await azurite?.stop();
      azurite = undefined;
    },
  },
];

function sha256(content: Buffer | string): string {
  return createHash('sha256').update(content).digest('hex');
}

describe.each(drivers)('files on $name storage', (driver) => {
  let subject: TestApp;
  let blobs: BlobStore;
  let alice: TestUser;
  let bob: TestUser;
  let baseUrl: string;

  beforeAll(async () => {
    const env = { ...(await driver.env()), MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES), MAX_FILES_PER_UPLOAD: '3' };
    // Local links point back at this service, so it must know its address before it listens.
    const port = await freePort();
    subject = await createTestApp({ env: { ...env, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` } });
    // A second handle on the same storage, to check from outside the app what is (not) stored.
    blobs = await createBlobStore(subject.config.storage);
    alice = await subject.createUser();
    bob = await subject.createUser();
    baseUrl = await subject.app.listen({ host: '127.0.0.1', port });
  });

  afterAll(async () => {
    await blobs?.close();
    await subject?.close();
    await driver.stop();
  });

  async function upload(user: TestUser, parts: PartSpec[], query = '') {
    const { body, contentType } = multipartBody(parts);
    return subject.app.inject({
      method: 'POST',
      url: `/api/v1/files${allowingDuplicates(query)}`,
      headers: { ...user.bearer, 'content-type': contentType },
      payload: body,
    });
  }

  async function storedBlobKeys(user: TestUser): Promise<string[]> {
    const keys: string[] = [];
    for await (const blob of blobs.list(`files/${user.id}/`)) keys.push(blob.key);
    return keys;
  }

  async function fileCount(user: TestUser): Promise<number> {
    const response = await subject.app.inject({ method: 'GET', url: '/api/v1/files', headers: user.bearer });
    return response.json().total as number;
  }

  describe('uploading', () => {
    it('stores a CSV with its size and SHA-256 and answers 201', async () => {
      const response = await upload(alice, [{ filename: 'people.csv', contentType: 'text/csv', content: CSV_SAMPLE }]);
      expect(response.statusCode).toBe(201);
      const [file] = response.json().items;
      expect(file).toMatchObject({
        filename: 'people.csv',
        content_type: 'text/csv',
        size_bytes: Buffer.byteLength(CSV_SAMPLE),
        sha256: sha256(CSV_SAMPLE),
        status: 'uploaded',
        owner_id: alice.id,
      });
      expect(new Date(file.created_at).toISOString()).toBe(file.created_at);
    });

    it('stores several files of one request together', async () => {
      const response = await upload(alice, [
        { filename: 'a.json', contentType: 'application/json', content: '[{"a":1}]' },
        { filename: 'b.ndjson', contentType: 'application/x-ndjson', content: '{"b":1}\n{"b":2}\n' },
      ]);
      expect(response.statusCode).toBe(201);
      expect(response.json().items.map((file: { content_type: string }) => file.content_type)).toEqual([
        'application/json',
        'application/x-ndjson',
      ]);
    });

    it('resolves application/octet-stream by the file extension and still checks the bytes', async () => {
      const ok = await upload(alice, [{ filename: 'data.csv', contentType: 'application/octet-stream', content: CSV_SAMPLE }]);
      expect(ok.statusCode).toBe(201);
      expect(ok.json().items[0].content_type).toBe('text/csv');
      const unknown = await upload(alice, [{ filename: 'data.bin', contentType: 'application/octet-stream', content: 'x' }]);
      expect(unknown.statusCode).toBe(415);
    });

    it('keeps only a sanitised display name from the client', async () => {
      const response = await upload(alice, [
        { filename: '../../etc/\u202epasswd\u0007.csv', contentType: 'text/csv', content: CSV_SAMPLE },
      ]);
      expect(response.statusCode).toBe(201);
      const file = response.json().items[0];
      expect(file.filename).toBe('passwd.csv');
      expect(await storedBlobKeys(alice)).toContain(`files/${alice.id}/${file.id}/original`);
    });

    it('refuses more files than allowed with 400 and stores none of them', async () => {
      const before = await fileCount(alice);
      const keysBefore = await storedBlobKeys(alice);
      const part = { filename: 'x.csv', contentType: 'text/csv', content: CSV_SAMPLE };
      const response = await upload(alice, [part, part, part, part]);
      expect(response.statusCode).toBe(400);
      expect(response.json().code).toBe('too_many_files');
      expect(await fileCount(alice)).toBe(before);
      expect(await storedBlobKeys(alice)).toEqual(keysBefore);
    });

    it('refuses a file over the size limit with 413 and keeps nothing of the request', async () => {
      const before = await storedBlobKeys(alice);
      const response = await upload(alice, [
        { filename: 'fine.csv', contentType: 'text/csv', content: CSV_SAMPLE },
        { filename: 'huge.csv', contentType: 'text/csv', content: `a\n${'1\n'.repeat(MAX_UPLOAD_BYTES)}` },
      ]);
      expect(response.statusCode).toBe(413);
      expect(response.json()).toMatchObject({ code: 'file_too_large', limit_bytes: MAX_UPLOAD_BYTES });
      expect(response.json().detail).toContain('huge.csv');
      expect(await storedBlobKeys(alice)).toEqual(before);
    });

    it('refuses bytes that lie about their type with 415 naming the file, and keeps nothing', async () => {
      const before = await storedBlobKeys(alice);
      const response = await upload(alice, [
        { filename: 'good.csv', contentType: 'text/csv', content: CSV_SAMPLE },
        { filename: 'photo.png', contentType: 'image/png', content: CSV_SAMPLE },
      ]);
      expect(response.statusCode).toBe(415);
      expect(response.json().code).toBe('unsupported_media_type');
      expect(response.json().detail).toMatch(/^photo\.png: /);
      expect(await storedBlobKeys(alice)).toEqual(before);
    });

    it('refuses a PNG declared as CSV and JSON that is not UTF-8, and accepts CSV in a legacy encoding', async () => {
      const png = await upload(alice, [{ filename: 'a.csv', contentType: 'text/csv', content: PNG_SIGNATURE }]);
      expect(png.statusCode).toBe(415);
      const latin1 = Buffer.concat([Buffer.from('name\n'), Buffer.alloc(10_000, 'a'), Buffer.from([0xe9, 0x0a])]);
      const legacy = await upload(alice, [{ filename: 'b.csv', contentType: 'text/csv', content: latin1 }]);
      expect(legacy.statusCode).toBe(201);
      const json = Buffer.concat([Buffer.from('[{"name":"'), Buffer.alloc(10_000, 'a'), Buffer.from([0xe9]), Buffer.from('"}]')]);
      const invalid = await upload(alice, [{ filename: 'c.json', contentType: 'application/json', content: json }]);
      expect(invalid.statusCode).toBe(415);
      expect(invalid.json().detail).toContain('not valid UTF-8');
    });

    it('refuses a type that is not allowed', async () => {
      const response = await upload(alice, [{ filename: 'notes.txt', contentType: 'text/plain', content: 'hello' }]);
      expect(response.statusCode).toBe(415);
      expect(response.json().detail).toContain('notes.txt');
    });

    it('refuses a body that is not multipart, parts with another name, and an empty request', async () => {
      const json = await subject.app.inject({ method: 'POST', url: '/api/v1/files', headers: alice.bearer, payload: { a: 1 } });
      expect(json.statusCode).toBe(415);
      const wrongField = await upload(alice, [
        { field: 'file', filename: 'a.csv', contentType: 'text/csv', content: CSV_SAMPLE },
      ]);
      expect(wrongField.statusCode).toBe(400);
      const empty = await upload(alice, []);
      expect(empty.statusCode).toBe(400);
    });

    it('requires authentication', async () => {
      const { body, contentType } = multipartBody([{ filename: 'a.csv', contentType: 'text/csv', content: CSV_SAMPLE }]);
      const response = await subject.app.inject({
        method: 'POST',
        url: '/api/v1/files',
        headers: { 'content-type': contentType },
        payload: body,
      });
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
    });

    it('leaves nothing behind when the client disconnects mid-upload', async () => {
      const carol = await subject.createUser();
      const { body, contentType } = multipartBody([
        { filename: 'big.csv', contentType: 'text/csv', content: `a\n${'1\n'.repeat(20_000)}` },
      ]);
      const url = new URL(baseUrl);
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(Number(url.port), url.hostname, () => {
          socket.write(
            `POST /api/v1/files HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: ${carol.bearer.authorization}\r\n` +
              `Content-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`,
          );
          socket.write(body.subarray(0, Math.floor(body.length / 2)), () => {
            setTimeout(() => {
              socket.destroy();
              resolve();
            }, 200);
          });
        });
        socket.on('error', reject);
      });
      // The server notices the broken request; give it a moment to clean up.
      for (let attempt = 0; attempt < 50 && (await storedBlobKeys(carol)).length > 0; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await storedBlobKeys(carol)).toEqual([]);
      expect(await fileCount(carol)).toBe(0);
    });
  });

  describe('reading', () => {
    let fileId: string;
    const content = 'id,value\n' + Array.from({ length: 200 }, (_, index) => `${index},${index * 2}`).join('\n') + '\n';

    beforeAll(async () => {
      const response = await upload(alice, [{ filename: 'résumé 2024.csv', contentType: 'text/csv', content }]);
      fileId = response.json().items[0].id;
    });

    it("answers someone else's file with 404, exactly like a missing one", async () => {
      const foreign = await subject.app.inject({ method: 'GET', url: `/api/v1/files/${fileId}`, headers: bob.bearer });
      const missing = await subject.app.inject({
        method: 'GET',
        url: '/api/v1/files/00000000-0000-4000-8000-000000000000',
        headers: bob.bearer,
      });
      expect(foreign.statusCode).toBe(404);
      expect(missing.statusCode).toBe(404);
      expect(foreign.json().code).toBe(missing.json().code);
      for (const path of ['content', 'link']) {
        const response = await subject.app.inject({
          method: path === 'link' ? 'POST' : 'GET',
          url: `/api/v1/files/${fileId}/${path}`,
          headers: bob.bearer,
          ...(path === 'link' ? { payload: { expires_in: 60 } } : {}),
        });
        expect(response.statusCode).toBe(404);
      }
      const deletion = await subject.app.inject({ method: 'DELETE', url: `/api/v1/files/${fileId}`, headers: bob.bearer });
      expect(deletion.statusCode).toBe(404);
    });

    it('streams the content with type, ETag and a safe attachment name', async () => {
      const response = await subject.app.inject({ method: 'GET', url: `/api/v1/files/${fileId}/content`, headers: alice.bearer });
      expect(response.statusCode).toBe(200);
      expect(response.body).toBe(content);
      expect(response.headers['content-type']).toBe('text/csv');
      expect(response.headers.etag).toBe(`"${sha256(content)}"`);
      expect(response.headers['content-disposition']).toBe(
        `attachment; filename="r_sum_ 2024.csv"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.csv`,
      );
      const again = await subject.app.inject({
        method: 'GET',
        url: `/api/v1/files/${fileId}/content`,
        headers: { ...alice.bearer, 'if-none-match': String(response.headers.etag) },
      });
      expect(again.statusCode).toBe(304);
    });

    it('serves byte ranges with 206 and refuses ranges outside the file with 416', async () => {
      const url = `/api/v1/files/${fileId}/content`;
      const middle = await subject.app.inject({ method: 'GET', url, headers: { ...alice.bearer, range: 'bytes=3-7' } });
      expect(middle.statusCode).toBe(206);
      expect(middle.body).toBe(content.slice(3, 8));
      expect(middle.headers['content-range']).toBe(`bytes 3-7/${content.length}`);
      const suffix = await subject.app.inject({ method: 'GET', url, headers: { ...alice.bearer, range: 'bytes=-4' } });
      expect(suffix.statusCode).toBe(206);
      expect(suffix.body).toBe(content.slice(-4));
      const open = await subject.app.inject({
        method: 'GET',
        url,
        headers: { ...alice.bearer, range: `bytes=${content.length - 3}-` },
      });
      expect(open.body).toBe(content.slice(-3));
      const outside = await subject.app.inject({
        method: 'GET',
        url,
        headers: { ...alice.bearer, range: `bytes=${content.length}-` },
      });
      expect(outside.statusCode).toBe(416);
      expect(outside.headers['content-range']).toBe(`bytes */${content.length}`);
    });

    it('hands out a link that downloads without credentials and refuses it tampered', async () => {
      const response = await subject.app.inject({
        method: 'POST',
        url: `/api/v1/files/${fileId}/link`,
        headers: alice.bearer,
        payload: { expires_in: 120 },
      });
      expect(response.statusCode).toBe(200);
      const { url, expires_at } = response.json();
      expect(new Date(expires_at).getTime()).toBeGreaterThan(Date.now() + 100_000);
      const download = await fetch(url);
      expect(download.status).toBe(200);
      expect(await download.text()).toBe(content);

      const tampered = new URL(url);
      const signatureParameter = [...tampered.searchParams.keys()].find((key) => /sig/i.test(key)) ?? 'sig';
      tampered.searchParams.set(signatureParameter, 'AAAA' + (tampered.searchParams.get(signatureParameter) ?? '').slice(4));
      expect((await fetch(tampered)).status).toBe(403);
    });

    it('stops a link working once it expires', async () => {
      const response = await subject.app.inject({
        method: 'POST',
        url: `/api/v1/files/${fileId}/link`,
        headers: alice.bearer,
        payload: { expires_in: 1 },
      });
      const { url } = response.json();
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      expect((await fetch(url)).status).toBe(403);
    });

    it("lists, filters, sorts and pages the caller's files", async () => {
      const user = await subject.createUser();
      for (const name of ['b.csv', 'a.csv', 'c.json']) {
        const type = name.endsWith('.json') ? 'application/json' : 'text/csv';
        await upload(user, [{ filename: name, contentType: type, content: type === 'text/csv' ? CSV_SAMPLE : '[{"x":1}]' }]);
      }
      const list = async (query: string) =>
        (await subject.app.inject({ method: 'GET', url: `/api/v1/files?${query}`, headers: user.bearer })).json();
      const byName = await list('sort=filename&order=asc');
      expect(byName.items.map((file: { filename: string }) => file.filename)).toEqual(['a.csv', 'b.csv', 'c.json']);
      expect(byName).toMatchObject({ total: 3, limit: 20, offset: 0 });
      const page = await list('sort=filename&order=desc&limit=1&offset=1');
      expect(page.items.map((file: { filename: string }) => file.filename)).toEqual(['b.csv']);
      expect(page.total).toBe(3);
      // A page past the end has no row to carry the count: the total is still the listing's.
      const pastTheEnd = await list('limit=2&offset=5');
      expect(pastTheEnd).toMatchObject({ items: [], total: 3, limit: 2, offset: 5 });
      const csvOnly = await list('content_type=text/csv');
      expect(csvOnly.total).toBe(2);
      const named = await list('filename=a.&status=uploaded');
      expect(named.items.map((file: { filename: string }) => file.filename)).toEqual(['a.csv']);
      expect(named.total).toBe(1);
      expect((await list('filename=zzz')).total).toBe(0);
      const bad = await subject.app.inject({ method: 'GET', url: '/api/v1/files?limit=1000', headers: user.bearer });
      expect(bad.statusCode).toBe(422);
    });
  });

  describe('direct uploads', () => {
    it('accepts bytes at the signed URL and counts them once completed and verified', async () => {
      const content = CSV_SAMPLE;
      const start = await subject.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        headers: alice.bearer,
        payload: { filename: 'direct.csv', content_type: 'text/csv', size_bytes: content.length, sha256: sha256(content) },
      });
      expect(start.statusCode).toBe(201);
      const { file_id, upload_url, method, headers } = start.json();
      const pending = await subject.app.inject({ method: 'GET', url: `/api/v1/files/${file_id}`, headers: alice.bearer });
      expect(pending.json().status).toBe('pending');

      const put = await fetch(upload_url, { method, headers, body: content });
      expect(put.status).toBeLessThan(300);
      const complete = await subject.app.inject({
        method: 'POST',
        url: `/api/v1/files/${file_id}/complete?allow_duplicate=true`,
        headers: alice.bearer,
      });
      expect(complete.statusCode).toBe(200);
      expect(complete.json()).toMatchObject({ status: 'uploaded', sha256: sha256(content), size_bytes: content.length });
      const again = await subject.app.inject({
        method: 'POST',
        url: `/api/v1/files/${file_id}/complete?allow_duplicate=true`,
        headers: alice.bearer,
      });
      expect(again.statusCode).toBe(409);
    });

    async function startUpload(user: TestUser, content: string) {
      const start = await subject.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        headers: user.bearer,
        payload: { filename: 'granted.csv', content_type: 'text/csv', size_bytes: content.length, sha256: sha256(content) },
      });
      expect(start.statusCode).toBe(201);
      return start.json() as { file_id: string; upload_url: string; method: string; headers: Record<string, string> };
    }

    it('ends the write grant when the upload is completed: a later PUT never changes the checked bytes', async () => {
      const { file_id, upload_url, method, headers } = await startUpload(alice, CSV_SAMPLE);
      expect((await fetch(upload_url, { method, headers, body: CSV_SAMPLE })).status).toBe(201);
      const complete = await subject.app.inject({
        method: 'POST',
        url: `/api/v1/files/${file_id}/complete?allow_duplicate=true`,
        headers: alice.bearer,
      });
      expect(complete.statusCode).toBe(200);

      const forged = CSV_SAMPLE.replace('ada', 'eve');
      const late = await fetch(upload_url, { method, headers, body: forged });
      await late.arrayBuffer();
      // Local links are single use; a cloud SAS cannot be revoked, but reaches only the staging key.
      if (driver.name === 'local') expect([403, 409]).toContain(late.status);
      const content = await subject.app.inject({ method: 'GET', url: `/api/v1/files/${file_id}/content`, headers: alice.bearer });
      expect(content.body).toBe(CSV_SAMPLE);
      expect(content.headers.etag).toBe(`"${sha256(CSV_SAMPLE)}"`);
    });

    it('ends the write grant when the pending upload is deleted: a PUT afterwards stores nothing', async () => {
      const carol = await subject.createUser();
      const { file_id, upload_url, method, headers } = await startUpload(carol, CSV_SAMPLE);
      expect(
        (await subject.app.inject({ method: 'DELETE', url: `/api/v1/files/${file_id}`, headers: carol.bearer })).statusCode,
      ).toBe(204);
      const late = await fetch(upload_url, { method, headers, body: CSV_SAMPLE });
      await late.arrayBuffer();
      if (driver.name === 'local') {
        expect([403, 409]).toContain(late.status);
        expect(await storedBlobKeys(carol)).toEqual([]);
      }
      expect(
        (await subject.app.inject({ method: 'GET', url: `/api/v1/files/${file_id}`, headers: carol.bearer })).statusCode,
      ).toBe(404);
    });

    it('refuses to complete an upload whose bytes lie about their type, and removes them', async () => {
      const start = await subject.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        headers: alice.bearer,
        payload: { filename: 'fake.png', content_type: 'image/png', size_bytes: CSV_SAMPLE.length },
      });
      const { file_id, upload_url, method, headers } = start.json();
      await fetch(upload_url, { method, headers, body: CSV_SAMPLE });
      const complete = await subject.app.inject({
        method: 'POST',
        url: `/api/v1/files/${file_id}/complete?allow_duplicate=true`,
        headers: alice.bearer,
      });
      expect(complete.statusCode).toBe(415);
      const keys = await storedBlobKeys(alice);
      expect(keys.some((key) => key.includes(file_id))).toBe(false);
    });

    it('refuses to start an upload over the size limit or of a type not allowed', async () => {
      const tooLarge = await subject.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        headers: alice.bearer,
        payload: { filename: 'big.csv', content_type: 'text/csv', size_bytes: MAX_UPLOAD_BYTES + 1 },
      });
      expect(tooLarge.statusCode).toBe(413);
      const wrongType = await subject.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        headers: alice.bearer,
        payload: { filename: 'x.exe', content_type: 'application/x-msdownload', size_bytes: 10 },
      });
      expect(wrongType.statusCode).toBe(415);
    });
  });

  describe('deleting and sweeping', () => {
    it('deletes the row and the blob; the file is gone for good', async () => {
      const response = await upload(alice, [{ filename: 'bye.csv', contentType: 'text/csv', content: CSV_SAMPLE }]);
      const id = response.json().items[0].id;
      const deletion = await subject.app.inject({ method: 'DELETE', url: `/api/v1/files/${id}`, headers: alice.bearer });
      expect(deletion.statusCode).toBe(204);
      expect((await storedBlobKeys(alice)).some((key) => key.includes(id))).toBe(false);
      const after = await subject.app.inject({ method: 'GET', url: `/api/v1/files/${id}`, headers: alice.bearer });
      expect(after.statusCode).toBe(404);
    });

    it('sweeps blobs without a row and direct uploads never completed, and keeps the rest', async () => {
      const dave = await subject.createUser();
      const kept = (await upload(dave, [{ filename: 'kept.csv', contentType: 'text/csv', content: CSV_SAMPLE }])).json().items[0];
      const orphanKey = `files/${dave.id}/${randomUUID()}/original`;
      await blobs.put(orphanKey, Readable.from([Buffer.from(CSV_SAMPLE)]));
      const abandoned = await subject.app.inject({
        method: 'POST',
        url: '/api/v1/uploads',
        headers: dave.bearer,
        payload: { filename: 'later.csv', content_type: 'text/csv', size_bytes: 10 },
      });
      const service = new FileService(subject.database.db, blobs, subject.config.files);

      // Within the grace period a blob may still be waiting for its row: nothing goes.
      expect(await service.sweep(new Date(), 60 * 60_000)).toEqual({ expiredUploads: 0, orphanBlobs: 0 });
      const later = new Date(Date.now() + 8 * 24 * 3600_000);
      const swept = await service.sweep(later, 60 * 60_000);
      expect(swept.orphanBlobs).toBeGreaterThanOrEqual(1);
      expect(swept.expiredUploads).toBeGreaterThanOrEqual(1);
      const keys = await storedBlobKeys(dave);
      expect(keys).toEqual([`files/${dave.id}/${kept.id}/original`]);
      const pending = await subject.app.inject({
        method: 'GET',
        url: `/api/v1/files/${abandoned.json().file_id}`,
        headers: dave.bearer,
      });
      expect(pending.statusCode).toBe(404);
    });
  });
});
