import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it as vitestIt } from 'vitest';
import type { BlobStore, ByteRange } from '../../src/storage/blob-store.ts';

export interface OpenedStore {
  store: BlobStore;
  close(): Promise<void>;
}

/** Opens a store; with `clock`, it signs links as of that time (to prove expiry without waiting). */
export type OpenStore = (options: { clock?: () => Date }) => Promise<OpenedStore>;

const CHUNK = 64 * 1024;

function chunked(bytes: Buffer, chunkSize = CHUNK): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < bytes.length; offset += chunkSize) yield bytes.subarray(offset, offset + chunkSize);
    })(),
  );
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface ConformanceOptions {
  /**
   * Cases the server under test cannot pass, by title, with the reason (an emulator's own
   * defect, never the adapter's). They are reported as skipped with that reason.
   */
  unsupported?: Record<string, string>;
}

/**
 * The behaviour every BlobStore adapter must share. Each test works under its own random
 * prefix, so adapters backed by one container or bucket stay isolated.
 */
export function blobStoreConformance(name: string, open: OpenStore, options: ConformanceOptions = {}): void {
  const unsupported = options.unsupported ?? {};
  const it = (title: string, fn: () => Promise<void>): void => {
    const reason = unsupported[title];
    if (reason) vitestIt.skip(`${title} (unsupported by the server: ${reason})`, fn);
    else vitestIt(title, fn);
  };

  describe(`BlobStore conformance: ${name}`, () => {
    let opened: OpenedStore;
    let store: BlobStore;

    beforeAll(async () => {
      opened = await open({});
      store = opened.store;
    });
    afterAll(async () => {
      await opened?.close();
    });

    const newPrefix = (): string => `conformance-${randomUUID()}`;

    it('stores a streamed blob and returns its size and SHA-256, then reads it back', async () => {
      const bytes = randomBytes(5 * CHUNK + 123);
      const key = `${newPrefix()}/round-trip.bin`;
      const result = await store.put(key, chunked(bytes), { contentType: 'text/csv' });
      expect(result).toEqual({ sizeBytes: bytes.length, sha256: sha256(bytes) });

      const download = await store.get(key);
      expect(download.totalBytes).toBe(bytes.length);
      expect(download.range).toBeUndefined();
      expect(download.contentType).toBe('text/csv');
      expect(download.etag).not.toBe('');
      expect((await buffer(download.stream)).equals(bytes)).toBe(true);

      const info = await store.head(key);
      expect(info).toMatchObject({ sizeBytes: bytes.length, contentType: 'text/csv', etag: download.etag });
      expect(info?.lastModified).toBeInstanceOf(Date);
    });

    it('stores an empty blob', async () => {
      const key = `${newPrefix()}/empty`;
      const result = await store.put(key, Readable.from([]));
      expect(result).toEqual({ sizeBytes: 0, sha256: sha256(Buffer.alloc(0)) });
      const download = await store.get(key);
      expect((await buffer(download.stream)).length).toBe(0);
      expect(download.contentType).toBe('application/octet-stream');
    });

    describe('byte ranges', () => {
      const bytes = randomBytes(1000);
      let key: string;
      beforeAll(async () => {
        key = `${newPrefix()}/ranges.bin`;
        await store.put(key, chunked(bytes, 300));
      });

      const readable: [string, ByteRange, number, number][] = [
        ['from an offset to the end', { start: 990 }, 990, 999],
        ['in the middle', { start: 100, end: 199 }, 100, 199],
        ['a single byte', { start: 0, end: 0 }, 0, 0],
        ['clamped when the end lies beyond the blob', { start: 900, end: 5000 }, 900, 999],
        ['the last n bytes', { suffixLength: 50 }, 950, 999],
        ['the whole blob when the suffix is longer than it', { suffixLength: 5000 }, 0, 999],
      ];
      for (const [label, range, start, end] of readable) {
        it(`reads ${label}`, async () => {
          const download = await store.get(key, { range });
          expect(download.totalBytes).toBe(1000);
          expect(download.range).toEqual({ start, end });
          expect((await buffer(download.stream)).equals(bytes.subarray(start, end + 1))).toBe(true);
        });
      }

      const unsatisfiable: [string, ByteRange][] = [
        ['starts at the size', { start: 1000 }],
        ['starts beyond the size', { start: 5000, end: 6000 }],
        ['ends before it starts', { start: 10, end: 5 }],
        ['is an empty suffix', { suffixLength: 0 }],
      ];
      for (const [label, range] of unsatisfiable) {
        it(`refuses a range that ${label} with range_not_satisfiable`, async () => {
          await expect(store.get(key, { range })).rejects.toMatchObject({
            code: 'range_not_satisfiable',
            status: 416,
            headers: { 'Content-Range': 'bytes */1000' },
          });
        });
      }
    });

    it('answers null to head and blob_not_found to get for a missing blob', async () => {
      const key = `${newPrefix()}/missing`;
      expect(await store.head(key)).toBeNull();
      await expect(store.get(key)).rejects.toMatchObject({ code: 'blob_not_found', status: 404 });
      await expect(store.get(key, { range: { start: 0 } })).rejects.toMatchObject({ code: 'blob_not_found' });
    });

    it('deletes idempotently', async () => {
      const key = `${newPrefix()}/deleted`;
      await store.put(key, Readable.from([Buffer.from('bye')]));
      await store.delete(key);
      expect(await store.head(key)).toBeNull();
      await store.delete(key);
      await store.delete(`${newPrefix()}/never-existed`);
    });

    it('moves a blob with its content type, replacing the target, and refuses a missing source', async () => {
      const prefix = newPrefix();
      const bytes = randomBytes(2 * CHUNK + 7);
      await store.put(`${prefix}/from`, chunked(bytes), { contentType: 'text/csv' });
      await store.put(`${prefix}/to`, Readable.from([Buffer.from('old')]));
      await store.move(`${prefix}/from`, `${prefix}/to`);
      expect(await store.head(`${prefix}/from`)).toBeNull();
      const moved = await store.get(`${prefix}/to`);
      expect(moved.contentType).toBe('text/csv');
      expect((await buffer(moved.stream)).equals(bytes)).toBe(true);
      await expect(store.move(`${prefix}/missing`, `${prefix}/elsewhere`)).rejects.toMatchObject({ code: 'blob_not_found' });
      expect(await store.head(`${prefix}/elsewhere`)).toBeNull();
    });

    it('leaves nothing behind when the source stream fails mid-way', async () => {
      const prefix = newPrefix();
      const failure = new Error('client went away');
      const source = Readable.from(
        (async function* () {
          yield randomBytes(CHUNK);
          yield randomBytes(CHUNK);
          throw failure;
        })(),
      );
      await expect(store.put(`${prefix}/aborted`, source)).rejects.toBe(failure);
      expect(await store.head(`${prefix}/aborted`)).toBeNull();
      expect(await keysUnder(store, prefix)).toEqual([]);
    });

    it('leaves nothing behind when the caller aborts the put', async () => {
      const prefix = newPrefix();
      const controller = new AbortController();
      const source = Readable.from(
        (async function* () {
          yield randomBytes(CHUNK);
          controller.abort();
          yield randomBytes(CHUNK);
          await new Promise((resolve) => setTimeout(resolve, 10));
          yield randomBytes(CHUNK);
        })(),
      );
      await expect(store.put(`${prefix}/cancelled`, source, { signal: controller.signal })).rejects.toThrow();
      expect(await store.head(`${prefix}/cancelled`)).toBeNull();
      expect(await keysUnder(store, prefix)).toEqual([]);
    });

    it('stops a put that exceeds maxBytes with file_too_large and leaves nothing', async () => {
      const prefix = newPrefix();
      let produced = 0;
      // Far larger than the limit: the put must fail while streaming, not after reading it all.
      const source = Readable.from(
        (function* () {
          for (let index = 0; index < 1024; index += 1) {
            produced += CHUNK;
            yield Buffer.alloc(CHUNK, 7);
          }
        })(),
      );
      await expect(store.put(`${prefix}/too-large`, source, { maxBytes: 3 * CHUNK + 1 })).rejects.toMatchObject({
        code: 'file_too_large',
        status: 413,
      });
      expect(produced).toBeLessThan(64 * CHUNK);
      expect(await store.head(`${prefix}/too-large`)).toBeNull();
      expect(await keysUnder(store, prefix)).toEqual([]);
    });

    it('accepts a put of exactly maxBytes', async () => {
      const key = `${newPrefix()}/exact`;
      const bytes = randomBytes(2 * CHUNK);
      await expect(store.put(key, chunked(bytes), { maxBytes: bytes.length })).resolves.toMatchObject({
        sizeBytes: bytes.length,
      });
    });

    it('lists the keys under a prefix with their sizes', async () => {
      const prefix = newPrefix();
      await store.put(`${prefix}/a/1`, Readable.from([Buffer.from('1')]));
      await store.put(`${prefix}/a/22`, Readable.from([Buffer.from('22')]));
      await store.put(`${prefix}/ab/3`, Readable.from([Buffer.from('333')]));
      await store.put(`${prefix}/b/4`, Readable.from([Buffer.from('4444')]));

      const entries = [];
      for await (const entry of store.list(`${prefix}/a/`)) entries.push(entry);
      entries.sort((left, right) => left.key.localeCompare(right.key));
      expect(entries.map(({ key, sizeBytes }) => ({ key, sizeBytes }))).toEqual([
        { key: `${prefix}/a/1`, sizeBytes: 1 },
        { key: `${prefix}/a/22`, sizeBytes: 2 },
      ]);
      expect(entries[0]?.lastModified).toBeInstanceOf(Date);
      expect(await keysUnder(store, `${prefix}/a`)).toEqual([`${prefix}/a/1`, `${prefix}/a/22`, `${prefix}/ab/3`]);
      expect(await keysUnder(store, `${prefix}/nothing`)).toEqual([]);
    });

    it('refuses keys that could escape their namespace', async () => {
      for (const key of ['../escape', 'a/../../b', '/absolute', 'a//b', '.hidden', 'a/.tmp/x', 'back\\slash', '']) {
        await expect(store.put(key, Readable.from([Buffer.from('x')]))).rejects.toMatchObject({ code: 'blob_key_invalid' });
        await expect(store.head(key)).rejects.toMatchObject({ code: 'blob_key_invalid' });
      }
    });

    it('refuses header values that could break or smuggle a header', async () => {
      const key = `${newPrefix()}/headers`;
      await expect(
        store.put(key, Readable.from([Buffer.from('x')]), { contentType: 'text/plain\r\nX-Evil: 1' }),
      ).rejects.toMatchObject({
        code: 'bad_request',
      });
      expect(await store.head(key)).toBeNull();
      await expect(
        store.createReadUrl(key, { expiresInSeconds: 60, contentDisposition: 'attachment\nX-Evil: 1' }),
      ).rejects.toMatchObject({
        code: 'bad_request',
      });
      await expect(store.createWriteUrl(key, { expiresInSeconds: 60, contentType: 'text/csv\u0000' })).rejects.toMatchObject({
        code: 'bad_request',
      });
    });

    describe('signed links', () => {
      const bytes = randomBytes(3 * CHUNK);
      let key: string;
      beforeAll(async () => {
        key = `${newPrefix()}/linked.csv`;
        await store.put(key, chunked(bytes), { contentType: 'text/csv' });
      });

      it('downloads with a plain fetch and no credentials until it expires', async () => {
        const link = await store.createReadUrl(key, {
          expiresInSeconds: 300,
          contentDisposition: 'attachment; filename="linked.csv"',
        });
        expect(link.expiresAt.getTime()).toBeGreaterThan(Date.now() + 290_000);
        const response = await fetch(link.url);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-disposition')).toBe('attachment; filename="linked.csv"');
        expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
      });

      it('serves a byte range through the link', async () => {
        const link = await store.createReadUrl(key, { expiresInSeconds: 300 });
        const response = await fetch(link.url, { headers: { Range: 'bytes=10-19' } });
        expect(response.status).toBe(206);
        expect(response.headers.get('content-range')).toBe(`bytes 10-19/${bytes.length}`);
        expect(Buffer.from(await response.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true);
      });

      it('refuses a link whose signature was tampered with', async () => {
        const link = await store.createReadUrl(key, { expiresInSeconds: 300 });
        const response = await fetch(tamper(link.url));
        expect(response.status).toBe(403);
        await response.arrayBuffer();
      });

      it('refuses a link used for another blob', async () => {
        const link = await store.createReadUrl(key, { expiresInSeconds: 300 });
        const other = new URL(link.url);
        other.pathname = other.pathname.replace(/linked\.csv$/, 'other.csv');
        const response = await fetch(other);
        expect(response.status).toBe(403);
        await response.arrayBuffer();
      });

      it('refuses an expired link', async () => {
        const past = await open({ clock: () => new Date(Date.now() - 3600_000) });
        try {
          const link = await past.store.createReadUrl(key, { expiresInSeconds: 60 });
          expect(link.expiresAt.getTime()).toBeLessThan(Date.now());
          const response = await fetch(link.url);
          expect(response.status).toBe(403);
          await response.arrayBuffer();
        } finally {
          await past.close();
        }
      });

      it('accepts one PUT of a new blob through a write link', async () => {
        const target = `${newPrefix()}/direct-upload.json`;
        const body = Buffer.from(JSON.stringify({ hello: 'world' }));
        const link = await store.createWriteUrl(target, { expiresInSeconds: 300, contentType: 'application/json' });
        expect(link.method).toBe('PUT');
        const response = await fetch(link.url, { method: 'PUT', headers: link.headers, body });
        expect(response.status).toBeGreaterThanOrEqual(200);
        expect(response.status).toBeLessThan(300);
        await response.arrayBuffer();

        const download = await store.get(target);
        expect(download.contentType).toBe('application/json');
        expect((await buffer(download.stream)).equals(body)).toBe(true);
      });

      it('refuses a write link that was tampered with or has expired', async () => {
        const target = `${newPrefix()}/refused-upload.bin`;
        const link = await store.createWriteUrl(target, { expiresInSeconds: 300 });
        const tampered = await fetch(tamper(link.url), { method: 'PUT', headers: link.headers, body: 'x' });
        expect(tampered.status).toBe(403);
        await tampered.arrayBuffer();

        const past = await open({ clock: () => new Date(Date.now() - 3600_000) });
        try {
          const expired = await past.store.createWriteUrl(target, { expiresInSeconds: 60 });
          const response = await fetch(expired.url, { method: 'PUT', headers: expired.headers, body: 'x' });
          expect(response.status).toBe(403);
          await response.arrayBuffer();
        } finally {
          await past.close();
        }
        expect(await store.head(target)).toBeNull();
      });

      it('refuses a link expiry outside 1 second to 7 days', async () => {
        await expect(store.createReadUrl(key, { expiresInSeconds: 0 })).rejects.toMatchObject({ code: 'bad_request' });
        await expect(store.createReadUrl(key, { expiresInSeconds: 8 * 24 * 3600 })).rejects.toMatchObject({
          code: 'bad_request',
        });
      });
    });

    it('reports ready', async () => {
      await expect(store.readiness.check(AbortSignal.timeout(5000))).resolves.toBeUndefined();
    });
  });
}

async function keysUnder(store: BlobStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of store.list(prefix)) keys.push(entry.key);
  return keys.sort();
}

/** Flips one character of the signature, whichever parameter carries it. */
function tamper(url: string): string {
  const parsed = new URL(url);
  for (const name of ['signature', 'sig', 'X-Amz-Signature']) {
    const value = parsed.searchParams.get(name);
    if (value) {
      const flipped = value[0] === 'A' ? `B${value.slice(1)}` : `A${value.slice(1)}`;
      parsed.searchParams.set(name, flipped);
      return parsed.toString();
    }
  }
  throw new Error(`no signature in ${url}`);
}
