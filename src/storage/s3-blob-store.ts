import type { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
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

export interface S3BlobStoreOptions {
  bucket: string;
  region: string;
  endpoint: string | undefined;
  /** Absent: the default AWS chain (environment, profile, instance or task role). */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  forcePathStyle: boolean;
  /** Multipart part size; memory per upload is about partBytes × concurrency. */
  partBytes: number;
  uploadConcurrency: number;
  maxAttempts: number;
  clock?: () => Date;
}

/**
 * Amazon S3 and S3-compatible servers. Uploads go through multipart upload (one PutObject
 * below a part); a failed upload is aborted so neither the object nor its parts remain. The
 * SDK's standard retry mode backs off exponentially with jitter.
 */
export class S3BlobStore implements BlobStore {
  readonly driver = 's3' as const;
  readonly readiness: ReadinessCheck;
  private readonly client: S3Client;
  private readonly clock: () => Date;

  constructor(private readonly options: S3BlobStoreOptions) {
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      maxAttempts: options.maxAttempts,
      retryMode: 'standard',
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
    if (options.forcePathStyle) {
      // Path-style bucket-level requests (ListObjectsV2, HeadBucket) go to `/bucket`, not the
      // SDK's `/bucket/`, before signing. Both forms are S3's own; some S3-compatible servers
      // (s3rver) verify the signature against `/bucket` only and refuse the other with
      // SignatureDoesNotMatch, which would break listing, and with it resumable uploads and sweeps.
      const withSlash = `/${options.bucket}/`;
      this.client.middlewareStack.add(
        (next) => async (args) => {
          const request = args.request as { path?: unknown };
          if (request.path === withSlash) request.path = withSlash.slice(0, -1);
          return next(args);
        },
        { step: 'build', name: 'intakeBucketPathWithoutSlash' },
      );
    }
    this.clock = options.clock ?? (() => new Date());
    this.readiness = {
      name: 'storage',
      target: `s3 ${options.endpoint ?? `region ${options.region}`} bucket ${options.bucket}`,
      check: async (signal) => {
        await this.client.send(new HeadBucketCommand({ Bucket: options.bucket }), { abortSignal: signal });
      },
    };
  }

  async put(key: string, body: Readable, options: PutBlobOptions = {}): Promise<PutBlobResult> {
    validateBlobKey(key);
    validateHeaderValue('Content-Type', options.contentType);
    return meteredPut(body, options, (meter) => {
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.options.bucket, Key: key, Body: meter, ContentType: options.contentType ?? DEFAULT_CONTENT_TYPE },
        partSize: this.options.partBytes,
        queueSize: this.options.uploadConcurrency,
        leavePartsOnError: false,
      });
      return { done: upload.done(), abort: () => upload.abort() };
    });
  }

  async get(key: string, options: GetBlobOptions = {}): Promise<BlobDownload> {
    validateBlobKey(key);
    const { range, etag } = await pinnedRange((blobKey) => this.head(blobKey), key, options.range);
    try {
      const response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.options.bucket,
          Key: key,
          ...(range ? { Range: `bytes=${range.start}-${range.end}`, IfMatch: etag } : {}),
        }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      const stream = response.Body as Readable | undefined;
      if (!stream) throw new Error('S3 answered a download without a body');
      const totalBytes = range ? Number(response.ContentRange?.split('/')[1] ?? Number.NaN) : Number(response.ContentLength ?? 0);
      return {
        stream,
        totalBytes,
        ...(range ? { range } : {}),
        contentType: response.ContentType ?? DEFAULT_CONTENT_TYPE,
        etag: response.ETag ?? '',
      };
    } catch (error) {
      if (statusOf(error) === 404) throw ERRORS.blobNotFound();
      throw error;
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    validateBlobKey(key);
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return {
        sizeBytes: Number(response.ContentLength ?? 0),
        contentType: response.ContentType ?? DEFAULT_CONTENT_TYPE,
        etag: response.ETag ?? '',
        lastModified: response.LastModified ?? new Date(0),
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
      // Keys are URL-safe by construction (validateBlobKey); one CopyObject holds up to 5 GB.
      await this.client.send(
        new CopyObjectCommand({ Bucket: this.options.bucket, Key: to, CopySource: `${this.options.bucket}/${from}` }),
      );
    } catch (error) {
      if (statusOf(error) === 404 || (error as { name?: string }).name === 'NoSuchKey') throw ERRORS.blobNotFound();
      throw error;
    }
    await this.delete(from);
  }

  async delete(key: string): Promise<void> {
    validateBlobKey(key);
    // S3 answers 204 for a missing key as well: idempotent by itself.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }));
  }

  async *list(prefix: string): AsyncIterable<BlobListEntry> {
    validateBlobPrefix(prefix);
    const pages = paginateListObjectsV2(
      { client: this.client },
      { Bucket: this.options.bucket, ...(prefix === '' ? {} : { Prefix: prefix }) },
    );
    for await (const page of pages) {
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined) continue;
        yield { key: item.Key, sizeBytes: Number(item.Size ?? 0), lastModified: item.LastModified ?? new Date(0) };
      }
    }
  }

  async createReadUrl(key: string, options: ReadUrlOptions): Promise<SignedUrl> {
    validateBlobKey(key);
    validateExpiry(options.expiresInSeconds);
    validateHeaderValue('Content-Disposition', options.contentDisposition);
    const signingDate = this.signingDate();
    const command = new GetObjectCommand({
      Bucket: this.options.bucket,
      Key: key,
      ...(options.contentDisposition === undefined ? {} : { ResponseContentDisposition: options.contentDisposition }),
    });
    const url = await getSignedUrl(this.client, command, { expiresIn: options.expiresInSeconds, signingDate });
    return { url, expiresAt: new Date(signingDate.getTime() + options.expiresInSeconds * 1000) };
  }

  async createWriteUrl(key: string, options: WriteUrlOptions): Promise<SignedWriteUrl> {
    validateBlobKey(key);
    validateExpiry(options.expiresInSeconds);
    validateHeaderValue('Content-Type', options.contentType);
    const signingDate = this.signingDate();
    const command = new PutObjectCommand({
      Bucket: this.options.bucket,
      Key: key,
      ...(options.contentType === undefined ? {} : { ContentType: options.contentType }),
    });
    // Content-Type is a signed header: an upload declaring another type is refused by S3.
    const url = await getSignedUrl(this.client, command, {
      expiresIn: options.expiresInSeconds,
      signingDate,
      ...(options.contentType === undefined ? {} : { signableHeaders: new Set(['content-type']) }),
    });
    return {
      url,
      expiresAt: new Date(signingDate.getTime() + options.expiresInSeconds * 1000),
      method: 'PUT',
      headers: options.contentType === undefined ? {} : { 'Content-Type': options.contentType },
    };
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private signingDate(): Date {
    return new Date(Math.floor(this.clock().getTime() / 1000) * 1000);
  }
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode;
  return undefined;
}
