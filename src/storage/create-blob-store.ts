import type { TokenCredential } from '@azure/identity';
import type { StorageConfig } from '../config/config.ts';
import type { AzureAuthentication } from './azure-blob-store.ts';
import type { BlobStore } from './blob-store.ts';
import { LocalBlobStore } from './local-blob-store.ts';
import { loadOrCreateSigningSecret } from './signing-secret.ts';

/** A value opened on first use and shared after (e.g. a blob store only some jobs need). */
export function openOnce<T>(open: () => Promise<T>): () => Promise<T> {
  let opened: Promise<T> | undefined;
  return () => {
    opened ??= open().catch((error: unknown) => {
      opened = undefined;
      throw error;
    });
    return opened;
  };
}

export interface BlobStoreOverrides {
  /** Signs links as of this time; tests sign in the past to prove that expiry is enforced. */
  clock?: () => Date;
  /** Replaces `DefaultAzureCredential` when authenticating to Azure with Entra ID. */
  azureCredential?: TokenCredential;
  /** Pins the Azure SAS version; for emulators that lag behind the SDK (see AzureBlobStoreOptions). */
  azureSasVersion?: string;
}

/**
 * Builds the configured blob store. The cloud SDKs are imported here, on demand, so the
 * embedded mode never loads them.
 */
export async function createBlobStore(config: StorageConfig, overrides: BlobStoreOverrides = {}): Promise<BlobStore> {
  const clock = overrides.clock ? { clock: overrides.clock } : {};
  switch (config.driver) {
    case 'local':
      return LocalBlobStore.open({
        directory: config.local.directory,
        publicBaseUrl: config.publicBaseUrl,
        signingSecret: config.local.signingSecret ?? (await loadOrCreateSigningSecret(config.local.signingSecretFile)),
        ...clock,
      });
    case 'azure': {
      const { AzureBlobStore } = await import('./azure-blob-store.ts');
      const { connectionString, accountName, accountKey } = config.azure;
      const accountUrl = config.azure.accountUrl ?? (accountName ? `https://${accountName}.blob.core.windows.net` : undefined);
      let authentication: AzureAuthentication;
      if (connectionString !== undefined) {
        authentication = { kind: 'connection-string', connectionString };
      } else if (accountUrl === undefined) {
        throw new Error(
          'Azure storage needs AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_NAME or AZURE_STORAGE_ACCOUNT_URL',
        );
      } else if (accountKey !== undefined) {
        const name = accountName ?? /^([a-z0-9]{3,24})\.blob\./.exec(new URL(accountUrl).hostname)?.[1];
        if (!name) throw new Error('AZURE_STORAGE_ACCOUNT_NAME is needed with AZURE_STORAGE_ACCOUNT_KEY for this account URL');
        authentication = { kind: 'shared-key', accountUrl, accountName: name, accountKey };
      } else {
        const credential = overrides.azureCredential ?? new (await import('@azure/identity')).DefaultAzureCredential();
        authentication = { kind: 'token', accountUrl, credential };
      }
      return new AzureBlobStore({
        authentication,
        container: config.azure.container,
        blockBytes: config.azure.blockBytes,
        uploadConcurrency: config.azure.uploadConcurrency,
        maxTries: config.azure.maxTries,
        ...clock,
        ...(overrides.azureSasVersion ? { sasVersion: overrides.azureSasVersion } : {}),
      });
    }
    case 's3': {
      const { S3BlobStore } = await import('./s3-blob-store.ts');
      const { bucket, accessKeyId, secretAccessKey } = config.s3;
      if (bucket === undefined) throw new Error('S3 storage needs S3_BUCKET');
      return new S3BlobStore({
        bucket,
        region: config.s3.region,
        endpoint: config.s3.endpoint,
        credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
        forcePathStyle: config.s3.forcePathStyle,
        partBytes: config.s3.partBytes,
        uploadConcurrency: config.s3.uploadConcurrency,
        maxAttempts: config.s3.maxAttempts,
        ...clock,
      });
    }
  }
}
