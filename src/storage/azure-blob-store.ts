import type { Readable } from 'node:stream';
import type { TokenCredential } from '@azure/identity';
import {
  BlobSASPermissions,
  BlobServiceClient,
  RestError,
  SASProtocol,
  StorageRetryPolicyType,
  StorageSharedKeyCredential,
  type BlobClient,
  type BlobGenerateSasUrlOptions,
  type ContainerClient,
  type StoragePipelineOptions,
  type UserDelegationKey,
} from '@azure/storage-blob';
import { ERRORS } from '../errors/catalog.ts';
import type { ReadinessCheck } from '../http/readiness-check.ts';
import {
  DEFAULT_CONTENT_TYPE,
  validateBlobKey,
  validateBlobPrefix,
  validateExpiry,
  validateHeaderValue,
  type BlobDownload,
  type BlobInfo,
  type BlobListEntry,
  type BlobStore,
  type GetBlobOptions,
  type PutBlobOptions,
  type PutBlobResult,
  type ReadUrlOptions,
  type SignedUrl,
  type SignedWriteUrl,
  type WriteUrlOptions,
} from './blob-store.ts';
import { meteredPut, pinnedRange } from './cloud-transfer.ts';

/** How Intake authenticates to the storage account; decides which kind of SAS it can sign. */
export type AzureAuthentication =
  | { kind: 'connection-string'; connectionString: string }
  | { kind: 'shared-key'; accountUrl: string; accountName: string; accountKey: string }
  /** Entra ID (managed identity, workload identity, az login…): links are user delegation SAS. */
  | { kind: 'token'; accountUrl: string; credential: TokenCredential };

export interface AzureBlobStoreOptions {
  authentication: AzureAuthentication;
  container: string;
  /** Block size of uploads; memory per upload is about blockBytes × (concurrency + 1). */
  blockBytes: number;
  uploadConcurrency: number;
  maxTries: number;
  clock?: () => Date;
  /**
   * Pins the SAS version instead of the SDK's newest. Only for emulators: Azurite 3.35 verifies
   * user delegation SAS up to version 2025-07-05.
   */
  sasVersion?: string;
}

// A user delegation key may live at most 7 days; one is fetched per day and reused.
const DELEGATION_KEY_LIFETIME_MS = 7 * 24 * 3600 * 1000;
const DELEGATION_KEY_REFRESH_MS = 24 * 3600 * 1000;
/** Tolerates clocks a little ahead of Azure's when a key's validity starts. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;

/**
 * Azure Blob Storage. Uploads are staged as blocks (bounded concurrency) and committed only at
 * the end, so a failed put leaves no blob: staged blocks stay invisible and Azure discards
 * uncommitted blocks after a week. Every request retries with exponential backoff.
 */
export class AzureBlobStore implements BlobStore {
  readonly driver = 'azure' as const;
  readonly readiness: ReadinessCheck;
  private readonly service: BlobServiceClient;
  private readonly container: ContainerClient;
  private readonly clock: () => Date;
  private containerReady: Promise<void> | undefined;
  private delegationKey: { key: UserDelegationKey; fetchedAt: number } | undefined;

  constructor(private readonly options: AzureBlobStoreOptions) {
    const pipelineOptions: StoragePipelineOptions = {
      retryOptions: {
        retryPolicyType: StorageRetryPolicyType.EXPONENTIAL,
        maxTries: options.maxTries,
        retryDelayInMs: 200,
        maxRetryDelayInMs: 15_000,
      },
      userAgentOptions: { userAgentPrefix: 'intake' },
    };
    const auth = options.authentication;
    this.service =
      auth.kind === 'connection-string'
        ? BlobServiceClient.fromConnectionString(auth.connectionString, pipelineOptions)
        : auth.kind === 'shared-key'
          ? new BlobServiceClient(
              auth.accountUrl,
              new StorageSharedKeyCredential(auth.accountName, auth.accountKey),
              pipelineOptions,
            )
          : new BlobServiceClient(auth.accountUrl, auth.credential, pipelineOptions);
    this.container = this.service.getContainerClient(options.container);
    this.clock = options.clock ?? (() => new Date());
    this.readiness = {
      name: 'storage',
      // The URL without any SAS or key: safe to show.
      target: `azure ${this.container.url.split('?')[0]}`,
      check: async (signal) => {
        // A fresh deployment has no container until the first write; that is not an outage.
        await this.ensureContainer();
        await this.container.getProperties({ abortSignal: signal });
      },
    };
  }

  async put(key: string, body: Readable, options: PutBlobOptions = {}): Promise<PutBlobResult> {
    validateBlobKey(key);
    validateHeaderValue('Content-Type', options.contentType);
    await this.ensureContainer();
    return meteredPut(body, options, (meter) => {
      const abort = new AbortController();
      return {
        done: this.blob(key)
          .getBlockBlobClient()
          .uploadStream(meter, this.options.blockBytes, this.options.uploadConcurrency, {
            abortSignal: abort.signal,
            blobHTTPHeaders: { blobContentType: options.contentType ?? DEFAULT_CONTENT_TYPE },
          }),
        abort: (reason) => abort.abort(reason),
      };
    });
  }

  async get(key: string, options: GetBlobOptions = {}): Promise<BlobDownload> {
    const blob = this.blob(key);
    const { range, etag } = await pinnedRange((blobKey) => this.head(blobKey), key, options.range);
    try {
      const response = await blob.download(range?.start ?? 0, range ? range.end - range.start + 1 : undefined, {
        abortSignal: options.signal,
        maxRetryRequests: 5,
        ...(etag ? { conditions: { ifMatch: etag } } : {}),
      });
      const stream = response.readableStreamBody as Readable | undefined;
      if (!stream) throw new Error('Azure answered a download without a body');
      const totalBytes = range ? Number(response.contentRange?.split('/')[1] ?? Number.NaN) : Number(response.contentLength);
      return {
        stream,
        totalBytes,
        ...(range ? { range } : {}),
        contentType: response.contentType ?? DEFAULT_CONTENT_TYPE,
        etag: response.etag ?? '',
      };
    } catch (error) {
      if (statusOf(error) === 404) throw ERRORS.blobNotFound();
      throw error;
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    try {
      const properties = await this.blob(key).getProperties();
      return {
        sizeBytes: Number(properties.contentLength ?? 0),
        contentType: properties.contentType ?? DEFAULT_CONTENT_TYPE,
        etag: properties.etag ?? '',
        lastModified: properties.lastModified ?? new Date(0),
      };
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
  }

  async move(from: string, to: string): Promise<void> {
    validateBlobKey(from);
    validateBlobKey(to);
    try {
      // Within one account the service copies by itself, authorised by our own credential.
      const copy = await this.blob(to).beginCopyFromURL(this.blob(from).url);
      await copy.pollUntilDone();
    } catch (error) {
      if (statusOf(error) === 404) throw ERRORS.blobNotFound();
      throw error;
    }
    await this.delete(from);
  }

  async delete(key: string): Promise<void> {
    try {
      await this.blob(key).deleteIfExists({ deleteSnapshots: 'include' });
    } catch (error) {
      // A missing container holds no blob either.
      if (statusOf(error) !== 404) throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<BlobListEntry> {
    validateBlobPrefix(prefix);
    try {
      for await (const item of this.container.listBlobsFlat(prefix === '' ? {} : { prefix })) {
        yield {
          key: item.name,
          sizeBytes: Number(item.properties.contentLength ?? 0),
          lastModified: item.properties.lastModified,
        };
      }
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  async createReadUrl(key: string, options: ReadUrlOptions): Promise<SignedUrl> {
    validateExpiry(options.expiresInSeconds);
    validateHeaderValue('Content-Disposition', options.contentDisposition);
    const expiresAt = this.expiry(options.expiresInSeconds);
    const url = await this.sign(key, {
      permissions: BlobSASPermissions.parse('r'),
      expiresOn: expiresAt,
      ...(options.contentDisposition === undefined ? {} : { contentDisposition: options.contentDisposition }),
    });
    return { url, expiresAt };
  }

  async createWriteUrl(key: string, options: WriteUrlOptions): Promise<SignedWriteUrl> {
    validateExpiry(options.expiresInSeconds);
    validateHeaderValue('Content-Type', options.contentType);
    await this.ensureContainer();
    const expiresAt = this.expiry(options.expiresInSeconds);
    const url = await this.sign(key, { permissions: BlobSASPermissions.parse('cw'), expiresOn: expiresAt });
    return {
      url,
      expiresAt,
      method: 'PUT',
      // A single Put Blob call; Azure needs the blob type, and takes the content type from it.
      headers: {
        'x-ms-blob-type': 'BlockBlob',
        ...(options.contentType === undefined ? {} : { 'Content-Type': options.contentType }),
      },
    };
  }

  async close(): Promise<void> {}

  /**
   * Service SAS when Intake holds the account key; user delegation SAS (signed by a key that
   * Entra ID hands out, revocable with the identity's role) when it authenticates as an identity.
   */
  private async sign(key: string, values: BlobGenerateSasUrlOptions): Promise<string> {
    const blob = this.blob(key);
    const https = blob.url.startsWith('https:');
    const sasOptions = {
      ...values,
      ...(https ? { protocol: SASProtocol.Https } : {}),
      ...(this.options.sasVersion ? { version: this.options.sasVersion } : {}),
    };
    if (this.service.credential instanceof StorageSharedKeyCredential) return blob.generateSasUrl(sasOptions);
    if (this.options.authentication.kind === 'token') {
      return blob.generateUserDelegationSasUrl(sasOptions, await this.userDelegationKey(values.expiresOn ?? this.clock()));
    }
    throw new Error('Signed Azure links need an account key or an Entra ID credential; the connection string has neither');
  }

  private async userDelegationKey(validUntil: Date): Promise<UserDelegationKey> {
    const now = this.clock().getTime();
    const cached = this.delegationKey;
    if (
      cached &&
      now - cached.fetchedAt < DELEGATION_KEY_REFRESH_MS &&
      cached.key.signedExpiresOn.getTime() >= validUntil.getTime()
    ) {
      return cached.key;
    }
    const key = await this.service.getUserDelegationKey(
      new Date(now - CLOCK_SKEW_MS),
      new Date(now + DELEGATION_KEY_LIFETIME_MS - CLOCK_SKEW_MS),
    );
    this.delegationKey = { key, fetchedAt: now };
    return key;
  }

  /** Created on first write rather than at boot, so a storage outage never stops the service starting. */
  private ensureContainer(): Promise<void> {
    this.containerReady ??= this.container.createIfNotExists().then(
      () => undefined,
      (error: unknown) => {
        this.containerReady = undefined;
        throw error;
      },
    );
    return this.containerReady;
  }

  private blob(key: string): BlobClient {
    validateBlobKey(key);
    return this.container.getBlobClient(key);
  }

  private expiry(seconds: number): Date {
    return new Date(Math.floor(this.clock().getTime() / 1000) * 1000 + seconds * 1000);
  }
}

function statusOf(error: unknown): number | undefined {
  return error instanceof RestError ? error.statusCode : undefined;
}
