import { once } from 'node:events';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../src/http/app-types.ts';
import { registerErrorHandling } from '../../src/http/error-handler.ts';
import { localBlobRoutes } from '../../src/storage/local-blob.routes.ts';
import { LocalBlobStore } from '../../src/storage/local-blob-store.ts';
import { blobStoreConformance, type OpenedStore } from './blob-store.conformance.ts';

const SECRET = 'test-signing-secret-0123456789abcdefghijklmnop';

/** A local store whose links are served by a real HTTP server, as they are in Intake. */
async function openLocal(options: {
  clock?: () => Date;
  directory?: string;
}): Promise<OpenedStore & { directory: string; baseUrl: string }> {
  const directory = options.directory ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'intake-blobs-')));
  const app: App = Fastify({ logger: false }).withTypeProvider<TypeBoxTypeProvider>();
  registerErrorHandling(app);
  // The links need the server's address, known only after listening; the server needs a store.
  // Two stores on one directory and secret serve and sign alike.
  const serving = await LocalBlobStore.open({ directory, publicBaseUrl: 'http://unused.invalid', signingSecret: SECRET });
  await app.register(localBlobRoutes, { store: serving, prefix: '/api/v1' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  const baseUrl = `http://127.0.0.1:${address.port}/api/v1`;
  const store = await LocalBlobStore.open({
    directory,
    publicBaseUrl: baseUrl,
    signingSecret: SECRET,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return {
    store,
    directory,
    baseUrl,
    async close() {
      await app.close();
      if (!options.directory) await fs.rm(directory, { recursive: true, force: true });
    },
  };
}

blobStoreConformance('local directory', openLocal);

describe('LocalBlobStore', () => {
  const opened: OpenedStore[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });

  it('keeps no temporary file after a failed put', async () => {
    const local = await openLocal({});
    opened.push(local);
    const source = Readable.from(
      (async function* () {
        yield Buffer.alloc(1000);
        throw new Error('boom');
      })(),
    );
    await expect(local.store.put('a/b', source)).rejects.toThrow('boom');
    expect(await fs.readdir(path.join(local.directory, '.tmp'))).toEqual([]);
  });

  it('writes blobs readable by the service user only', async () => {
    const local = await openLocal({});
    opened.push(local);
    await local.store.put('private/blob', Readable.from([Buffer.from('secret')]));
    const stat = await fs.stat(path.join(local.directory, 'private', 'blob'));
    expect(stat.mode & 0o077).toBe(0);
  });

  it('removes temporaries left by a crash long ago, and keeps recent ones', async () => {
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-blobs-'));
    await fs.mkdir(path.join(directory, '.tmp'), { recursive: true });
    const stale = path.join(directory, '.tmp', 'stale');
    const fresh = path.join(directory, '.tmp', 'fresh');
    await fs.writeFile(stale, 'x');
    await fs.writeFile(fresh, 'x');
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600_000);
    await fs.utimes(stale, twoDaysAgo, twoDaysAgo);
    const local = await openLocal({ directory });
    opened.push(local);
    expect(await fs.readdir(path.join(directory, '.tmp'))).toEqual(['fresh']);
    await fs.rm(directory, { recursive: true, force: true });
  });

  it('answers a signed download of a missing blob with 404 and a problem body', async () => {
    const local = await openLocal({});
    opened.push(local);
    const link = await local.store.createReadUrl('gone/away', { expiresInSeconds: 60 });
    const response = await fetch(link.url);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: 'blob_not_found' });
  });

  it('answers 416 with the size to a signed download with an unsatisfiable range', async () => {
    const local = await openLocal({});
    opened.push(local);
    await local.store.put('r/blob', Readable.from([Buffer.alloc(10)]));
    const link = await local.store.createReadUrl('r/blob', { expiresInSeconds: 60 });
    const response = await fetch(link.url, { headers: { Range: 'bytes=50-60' } });
    expect(response.status).toBe(416);
    expect(response.headers.get('content-range')).toBe('bytes */10');
    expect(await response.json()).toMatchObject({ code: 'range_not_satisfiable' });
  });

  it('tells an expired link from a tampered one', async () => {
    const local = await openLocal({ clock: () => new Date(Date.now() - 3600_000) });
    opened.push(local);
    await local.store.put('e/blob', Readable.from([Buffer.alloc(10)]));
    const link = await local.store.createReadUrl('e/blob', { expiresInSeconds: 60 });
    const expired = await fetch(link.url);
    expect(await expired.json()).toMatchObject({ status: 403, code: 'signed_url_expired' });
    const extended = new URL(link.url);
    extended.searchParams.set('expires', String(Math.floor(Date.now() / 1000) + 3600));
    const forged = await fetch(extended);
    expect(await forged.json()).toMatchObject({ status: 403, code: 'signed_url_invalid' });
  });

  it('refuses a direct upload beyond the size the link allows and keeps nothing', async () => {
    const local = await openLocal({});
    opened.push(local);
    const link = await local.store.createWriteUrl('u/big', { expiresInSeconds: 60, maxBytes: 1000 });
    const declared = await fetch(link.url, { method: 'PUT', body: Buffer.alloc(5000) });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ code: 'file_too_large' });
    // Without a Content-Length the limit is enforced while streaming.
    const streamed = await fetch(link.url, {
      method: 'PUT',
      body: Readable.toWeb(Readable.from([Buffer.alloc(600), Buffer.alloc(600)])) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await local.store.head('u/big')).toBeNull();
  });

  it('accepts one stored PUT per write link, and none once the blob is deleted', async () => {
    const local = await openLocal({});
    opened.push(local);
    const link = await local.store.createWriteUrl('u/once', { expiresInSeconds: 60 });
    expect((await fetch(link.url, { method: 'PUT', body: 'first' })).status).toBe(201);
    const again = await fetch(link.url, { method: 'PUT', body: 'second' });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ code: 'conflict' });
    const stored = await local.store.get('u/once');
    expect(Buffer.concat(await stored.stream.toArray()).toString()).toBe('first');

    const unused = await local.store.createWriteUrl('u/revoked', { expiresInSeconds: 60 });
    await local.store.delete('u/revoked');
    expect((await fetch(unused.url, { method: 'PUT', body: 'late' })).status).toBe(409);
    expect(await local.store.head('u/revoked')).toBeNull();
  });

  it('refuses a direct upload with another content type than the link was signed for', async () => {
    const local = await openLocal({});
    opened.push(local);
    const link = await local.store.createWriteUrl('u/typed', { expiresInSeconds: 60, contentType: 'text/csv' });
    const response = await fetch(link.url, { method: 'PUT', headers: { 'Content-Type': 'text/html' }, body: 'a,b' });
    expect(response.status).toBe(403);
    expect(await local.store.head('u/typed')).toBeNull();
  });

  it('keeps nothing from a direct upload whose client disconnects mid-body', async () => {
    const local = await openLocal({});
    opened.push(local);
    const link = new URL((await local.store.createWriteUrl('u/dropped', { expiresInSeconds: 60 })).url);
    const socket = net.connect(Number(link.port), link.hostname);
    await once(socket, 'connect');
    socket.write(`PUT ${link.pathname}${link.search} HTTP/1.1\r\nHost: ${link.host}\r\nContent-Length: 1000000\r\n\r\n`);
    socket.write(Buffer.alloc(200_000));
    // Wait until the server has written part of the body, then vanish.
    await until(async () => (await fs.readdir(path.join(local.directory, '.tmp'))).length > 0);
    socket.destroy();
    await until(async () => (await fs.readdir(path.join(local.directory, '.tmp'))).length === 0);
    expect(await local.store.head('u/dropped')).toBeNull();
  });

  it('does not accept a read link for an upload', async () => {
    const local = await openLocal({});
    opened.push(local);
    const link = await local.store.createReadUrl('u/sneaky', { expiresInSeconds: 60 });
    const response = await fetch(link.url, { method: 'PUT', body: 'x' });
    expect(response.status).toBe(403);
    expect(await local.store.head('u/sneaky')).toBeNull();
  });
});

/** Polls a condition the server reaches asynchronously; the bound only stops a broken test. */
async function until(condition: () => Promise<boolean>, attempts = 500): Promise<void> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition never became true');
}
