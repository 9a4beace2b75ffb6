import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { createBlobStore } from '../../src/storage/create-blob-store.ts';
import { blobStoreConformance } from './blob-store.conformance.ts';

/**
 * Runs only against a real S3-compatible server: set S3_ENDPOINT (and S3_ACCESS_KEY_ID,
 * S3_SECRET_ACCESS_KEY, optionally S3_BUCKET and S3_REGION). Without S3_BUCKET a bucket is
 * created for the run.
 */
const endpoint = process.env.S3_ENDPOINT;

describe.skipIf(!endpoint)('S3', () => {
  const env = {
    S3_ENDPOINT: endpoint,
    S3_BUCKET: process.env.S3_BUCKET ?? `intake-test-${randomUUID().slice(0, 8)}`,
    S3_REGION: process.env.S3_REGION,
    S3_ACCESS_KEY_ID: process.env.S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY: process.env.S3_SECRET_ACCESS_KEY,
    S3_FORCE_PATH_STYLE: process.env.S3_FORCE_PATH_STYLE,
  };

  beforeAll(async () => {
    if (process.env.S3_BUCKET) return;
    const config = loadConfig(env).storage.s3;
    const client = new S3Client({
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      ...(config.accessKeyId && config.secretAccessKey
        ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } }
        : {}),
    });
    await client.send(new CreateBucketCommand({ Bucket: env.S3_BUCKET }));
    client.destroy();
  });

  blobStoreConformance('S3', async ({ clock }) => {
    const store = await createBlobStore(loadConfig(env).storage, clock ? { clock } : {});
    return { store, close: () => store.close() };
  });
});
