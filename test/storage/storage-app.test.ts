import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { App } from '../../src/http/app-types.ts';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { createBlobStore } from '../../src/storage/create-blob-store.ts';

describe('blob storage in the app', () => {
  let dataDir: string;
  let app: App;
  let store: BlobStore;

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-app-storage-'));
    const config = loadConfig({
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      PUBLIC_URL: 'http://intake.test',
      DATABASE_URL: process.env.DATABASE_URL,
    });
    store = await createBlobStore(config.storage);
    app = await buildApp(config, { blobStore: store });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('reports the storage in /ready, without its location to an anonymous caller', async () => {
    const response = await app.inject({ method: 'GET', url: '/ready' });
    expect(response.statusCode).toBe(200);
    const storage = response.json().components.find((component: { name: string }) => component.name === 'storage');
    expect(storage).toMatchObject({ name: 'storage', status: 'up' });
    expect(storage).not.toHaveProperty('target');
  });

  it('serves a local signed link under /api/v1/blobs with ranges and without credentials', async () => {
    await store.put('app/hello.txt', Readable.from([Buffer.from('hello, world')]), { contentType: 'text/plain' });
    const link = await store.createReadUrl('app/hello.txt', { expiresInSeconds: 60 });
    expect(link.url.startsWith('http://intake.test/api/v1/blobs/app/hello.txt?')).toBe(true);
    const url = link.url.replace('http://intake.test', '');
    const whole = await app.inject({ method: 'GET', url, headers: { 'accept-encoding': 'gzip' } });
    expect(whole.statusCode).toBe(200);
    expect(whole.body).toBe('hello, world');
    expect(whole.headers['content-encoding']).toBeUndefined();
    expect(whole.headers['x-request-id']).toBeDefined();
    const part = await app.inject({ method: 'GET', url, headers: { range: 'bytes=7-' } });
    expect(part.statusCode).toBe(206);
    expect(part.body).toBe('world');
    const forged = await app.inject({ method: 'GET', url: url.replace('hello.txt', 'other.txt') });
    expect(forged.statusCode).toBe(403);
    expect(forged.headers['content-type']).toContain('application/problem+json');
  });

  it('accepts a direct upload through a local write link', async () => {
    const link = await store.createWriteUrl('app/upload.csv', { expiresInSeconds: 60, contentType: 'text/csv', maxBytes: 100 });
    const response = await app.inject({
      method: 'PUT',
      url: link.url.replace('http://intake.test', ''),
      headers: link.headers,
      payload: 'a,b\n1,2\n',
    });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ size_bytes: 8 });
    expect(await store.head('app/upload.csv')).toMatchObject({ sizeBytes: 8, contentType: 'text/csv' });
  });
});
