import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { createBlobStore } from '../../src/storage/create-blob-store.ts';
import { loadOrCreateSigningSecret } from '../../src/storage/signing-secret.ts';

describe('storage configuration', () => {
  it('defaults to a local directory under DATA_DIR with links under PUBLIC_URL', () => {
    const config = loadConfig({ DATA_DIR: '/srv/intake', PUBLIC_URL: 'https://intake.example.com/' });
    expect(config.storage.driver).toBe('local');
    expect(config.storage.local.directory).toBe('/srv/intake/blobs');
    expect(config.storage.publicBaseUrl).toBe('https://intake.example.com/api/v1');
  });

  it('detects Azure from its variables and S3 from its bucket', () => {
    expect(loadConfig({ AZURE_STORAGE_ACCOUNT_NAME: 'acct' }).storage.driver).toBe('azure');
    expect(loadConfig({ AZURE_STORAGE_ACCOUNT_URL: 'https://acct.blob.core.windows.net' }).storage.driver).toBe('azure');
    expect(loadConfig({ S3_BUCKET: 'b' }).storage.driver).toBe('s3');
    expect(loadConfig({ S3_BUCKET: 'b', STORAGE_DRIVER: 'local' }).storage.driver).toBe('local');
  });

  it('uses path-style S3 addressing by default only with a custom endpoint', () => {
    expect(loadConfig({ S3_BUCKET: 'b' }).storage.s3.forcePathStyle).toBe(false);
    expect(loadConfig({ S3_BUCKET: 'b', S3_ENDPOINT: 'http://127.0.0.1:9000' }).storage.s3.forcePathStyle).toBe(true);
  });

  it.each([
    [{ STORAGE_DRIVER: 'azure' }, 'STORAGE_DRIVER'],
    [{ STORAGE_DRIVER: 's3' }, 'STORAGE_DRIVER'],
    [{ STORAGE_DRIVER: 'ftp' }, 'STORAGE_DRIVER'],
    [{ AZURE_STORAGE_CONTAINER: 'No_Such' }, 'AZURE_STORAGE_CONTAINER'],
    [{ S3_PART_BYTES: '1024' }, 'S3_PART_BYTES'],
    [{ S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'only-the-id' }, 'S3_SECRET_ACCESS_KEY'],
    [{ STORAGE_SIGNING_SECRET: 'short' }, 'STORAGE_SIGNING_SECRET'],
    // Production also needs a JWT key; a placeholder one gets past that check to the storage one.
    [
      { NODE_ENV: 'production', JWT_PRIVATE_KEY: 'set', STORAGE_SIGNING_SECRET: 'change-me-change-me-change-me-change-me' },
      'STORAGE_SIGNING_SECRET',
    ],
  ])('refuses %o, naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(variable);
  });

  it('never prints a secret in a configuration error', () => {
    expect(() => loadConfig({ STORAGE_SIGNING_SECRET: 'short-secret' })).toThrow(
      expect.not.objectContaining({ message: expect.stringContaining('short-secret') }),
    );
  });
});

describe('local signing secret', () => {
  const directories: string[] = [];
  afterEach(async () => {
    await Promise.all(directories.splice(0).map((directory) => fs.rm(directory, { recursive: true, force: true })));
  });
  const tempDir = async (): Promise<string> => {
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-secret-'));
    directories.push(directory);
    return directory;
  };

  it('is generated once with mode 0600 and reused', async () => {
    const file = path.join(await tempDir(), 'storage-signing.key');
    const [first, second] = await Promise.all([loadOrCreateSigningSecret(file), loadOrCreateSigningSecret(file)]);
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(second).toBe(first);
    expect(await loadOrCreateSigningSecret(file)).toBe(first);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect((await fs.readdir(path.dirname(file))).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a secret file that other users can read', async () => {
    const file = path.join(await tempDir(), 'storage-signing.key');
    await fs.writeFile(file, 'x'.repeat(64), { mode: 0o644 });
    await fs.chmod(file, 0o644);
    await expect(loadOrCreateSigningSecret(file)).rejects.toThrow('chmod 600');
  });

  it('is created by the factory under DATA_DIR when none is configured', async () => {
    const dataDir = await tempDir();
    const store = await createBlobStore(loadConfig({ DATA_DIR: dataDir }).storage);
    expect(store.driver).toBe('local');
    expect((await fs.stat(path.join(dataDir, 'storage-signing.key'))).mode & 0o777).toBe(0o600);
    await expect(store.readiness.check(AbortSignal.timeout(1000))).resolves.toBeUndefined();
  });
});
