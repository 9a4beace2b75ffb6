import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { createBlobStore } from '../../src/storage/create-blob-store.ts';
import { blobStoreConformance } from './blob-store.conformance.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type RunningAzurite } from './azurite.ts';

let azurite: RunningAzurite;
beforeAll(async () => {
  azurite = await startAzurite();
}, 30_000);
afterAll(async () => {
  await azurite?.stop();
});

// One container per run; the suite's random prefixes isolate the tests inside it.
const container = `conformance-${randomUUID().slice(0, 8)}`;

blobStoreConformance('Azure Blob (Azurite)', async ({ clock }) => {
  const config = loadConfig({ AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString, AZURE_STORAGE_CONTAINER: container });
  const store = await createBlobStore(config.storage, clock ? { clock } : {});
  return { store, close: () => store.close() };
});

describe('Azure Blob configuration', () => {
  it('is chosen when a connection string is configured', async () => {
    const config = loadConfig({ AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString, AZURE_STORAGE_CONTAINER: container });
    expect(config.storage.driver).toBe('azure');
    const store = await createBlobStore(config.storage);
    expect(store.driver).toBe('azure');
    expect(store.readiness.target).not.toContain('AccountKey');
  });

  it('signs service SAS links with an account name and key', async () => {
    const config = loadConfig({
      AZURE_STORAGE_ACCOUNT_NAME: AZURITE_ACCOUNT,
      AZURE_STORAGE_ACCOUNT_KEY: AZURITE_KEY,
      AZURE_STORAGE_ACCOUNT_URL: azurite.blobEndpoint,
      AZURE_STORAGE_CONTAINER: container,
    });
    const store = await createBlobStore(config.storage);
    await store.put('shared-key/hello.txt', Readable.from([Buffer.from('hello')]), { contentType: 'text/plain' });
    const link = await store.createReadUrl('shared-key/hello.txt', { expiresInSeconds: 60 });
    expect(new URL(link.url).searchParams.get('sp')).toBe('r');
    const response = await fetch(link.url);
    expect(await response.text()).toBe('hello');
  });

  it('reports not ready when the account cannot be reached', async () => {
    const config = loadConfig({
      AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:9'),
      AZURE_STORAGE_MAX_TRIES: '1',
    });
    const store = await createBlobStore(config.storage);
    await expect(store.readiness.check(AbortSignal.timeout(5000))).rejects.toThrow();
  });
});
