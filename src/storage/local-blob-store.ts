import { createHash, randomUUID } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ERRORS } from '../errors/catalog.ts';
import type { ReadinessCheck } from '../http/readiness-check.ts';
import {
  DEFAULT_CONTENT_TYPE,
  resolveByteRange,
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
import type { App } from '../http/app-types.ts';
import { HashingMeter } from './hashing-meter.ts';
import { localBlobRoutes } from './local-blob.routes.ts';
import { createSignedBlobUrl, verifySignedBlobUrl, type SignedBlobGrant } from './signed-url.ts';

export interface LocalBlobStoreOptions {
  directory: string;
  /** Base of signed links, e.g. `https://intake.example.com/api/v1`. */
  publicBaseUrl: string;
  signingSecret: string;
  /** Tests sign links in the past to prove expiry without waiting. */
  clock?: () => Date;
}

interface SidecarMetadata {
  content_type: string;
  sha256: string;
  size_bytes: number;
}

// Keys never have a segment starting with ".", so these folders cannot collide with a blob.
const TEMPORARY_DIR = '.tmp';
const METADATA_DIR = '.meta';
/** Open write grants, one file per key: a signed PUT link works only while its grant is here. */
const GRANTS_DIR = '.grants';
/** Older in-progress files were left by a crash; younger ones may belong to a live upload. */
const STALE_TEMPORARY_MS = 24 * 3600 * 1000;

/**
 * Blobs as plain files under one directory. A put streams into `.tmp/`, is flushed to disk and
 * renamed into place, so readers see the whole blob or none of it; the content type and hash
 * live in a small sidecar under `.meta/` written before the rename.
 */
export class LocalBlobStore implements BlobStore {
  readonly driver = 'local' as const;
  readonly readiness: ReadinessCheck;
  /** Its signed links point back at this service, which serves them with these routes. */
  readonly httpRoutes = (app: App): Promise<void> => localBlobRoutes(app, { store: this });
  private readonly root: string;
  private readonly clock: () => Date;

  private constructor(private readonly options: LocalBlobStoreOptions) {
    this.root = path.resolve(options.directory);
    this.clock = options.clock ?? (() => new Date());
    this.readiness = {
      name: 'storage',
      target: `local ${this.root}`,
      check: async () => fs.access(path.join(this.root, TEMPORARY_DIR), constants.W_OK),
    };
  }

  static async open(options: LocalBlobStoreOptions): Promise<LocalBlobStore> {
    const store = new LocalBlobStore(options);
    await fs.mkdir(path.join(store.root, TEMPORARY_DIR), { recursive: true, mode: 0o700 });
    await fs.mkdir(path.join(store.root, METADATA_DIR), { recursive: true, mode: 0o700 });
    await fs.mkdir(path.join(store.root, GRANTS_DIR), { recursive: true, mode: 0o700 });
    await store.removeStaleTemporaries();
    return store;
  }

  async put(key: string, body: Readable, options: PutBlobOptions = {}): Promise<PutBlobResult> {
    const target = this.pathOf(key);
    validateHeaderValue('Content-Type', options.contentType);
    const temporary = path.join(this.root, TEMPORARY_DIR, randomUUID());
    const meter = new HashingMeter(options.maxBytes);
    try {
      // `flush` fsyncs before close: after the rename below, a power cut cannot leave a
      // renamed but empty file.
      const sink = createWriteStream(temporary, { flags: 'wx', mode: 0o600, flush: true });
      await pipeline(body, meter, sink, ...(options.signal ? [{ signal: options.signal }] : []));
      const metadata: SidecarMetadata = {
        content_type: options.contentType ?? DEFAULT_CONTENT_TYPE,
        sha256: meter.sha256,
        size_bytes: meter.sizeBytes,
      };
      await this.writeMetadata(key, metadata);
      await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      await fs.rename(temporary, target);
      await fsyncDirectory(path.dirname(target));
      return { sizeBytes: meter.sizeBytes, sha256: meter.sha256 };
    } catch (error) {
      await fs.rm(temporary, { force: true });
      throw error;
    }
  }

  async get(key: string, options: GetBlobOptions = {}): Promise<BlobDownload> {
    const file = this.pathOf(key);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, 'r');
    } catch (error) {
      throw isMissing(error) ? ERRORS.blobNotFound() : error;
    }
    try {
      // Size and bytes come from the same open file: a concurrent replace cannot mix them.
      const stat = await handle.stat();
      if (!stat.isFile()) throw ERRORS.blobNotFound();
      const metadata = await this.readMetadata(key, stat.size);
      const range = options.range ? resolveByteRange(options.range, stat.size) : undefined;
      const stream = handle.createReadStream({
        start: range?.start ?? 0,
        ...(range ? { end: range.end } : {}),
        autoClose: true,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return {
        stream,
        totalBytes: stat.size,
        ...(range ? { range } : {}),
        contentType: metadata?.content_type ?? DEFAULT_CONTENT_TYPE,
        etag: etagOf(stat, metadata),
      };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    let stat: Awaited<ReturnType<typeof fs.stat>>;
    try {
      stat = await fs.stat(this.pathOf(key));
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    if (!stat.isFile()) return null;
    const metadata = await this.readMetadata(key, stat.size);
    return {
      sizeBytes: stat.size,
      contentType: metadata?.content_type ?? DEFAULT_CONTENT_TYPE,
      etag: etagOf(stat, metadata),
      lastModified: stat.mtime,
    };
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.pathOf(from);
    const target = this.pathOf(to);
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    await fs.mkdir(path.dirname(this.metadataPathOf(to)), { recursive: true, mode: 0o700 });
    try {
      // The sidecar first: it is trusted only when it describes a file of the blob's size.
      await fs.rename(this.metadataPathOf(from), this.metadataPathOf(to)).catch((error: unknown) => {
        if (!isMissing(error)) throw error;
      });
      await fs.rename(source, target);
    } catch (error) {
      if (isMissing(error)) throw ERRORS.blobNotFound();
      throw error;
    }
    await fsyncDirectory(path.dirname(target));
  }

  /** Also ends any write grant for `key`: a signed PUT link cannot bring a deleted blob back. */
  async delete(key: string): Promise<void> {
    await fs.rm(this.grantPathOf(key), { force: true });
    await fs.rm(this.pathOf(key), { force: true });
    await fs.rm(this.metadataPathOf(key), { force: true });
  }

  /**
   * The PUT of a signed write link: single use. The key's grant is claimed (renamed away, so two
   * PUTs at once cannot both have it) before the bytes are stored, given back if storing fails,
   * and gone once they are stored. After that, or after `delete`, the link answers 409 and the
   * stored bytes stay as they are. The signature must have been verified by the caller.
   */
  async putGranted(key: string, body: Readable, options: PutBlobOptions = {}): Promise<PutBlobResult> {
    const grant = this.grantPathOf(key);
    const claimed = `${grant}.claimed-${randomUUID()}`;
    try {
      await fs.rename(grant, claimed);
    } catch (error) {
      if (isMissing(error))
        throw ERRORS.conflict('This upload link has been used already, or its upload was completed or deleted.');
      throw error;
    }
    let result: PutBlobResult;
    try {
      result = await this.put(key, body, options);
    } catch (error) {
      await fs.rename(claimed, grant).catch(() => undefined);
      throw error;
    }
    await fs.rm(claimed, { force: true });
    return result;
  }

  async *list(prefix: string): AsyncIterable<BlobListEntry> {
    validateBlobPrefix(prefix);
    // Start in the deepest directory the prefix names; the rest is filtered by name.
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    yield* this.walk(base, prefix);
  }

  private async *walk(relative: string, prefix: string): AsyncIterable<BlobListEntry> {
    let directory: Awaited<ReturnType<typeof fs.opendir>>;
    try {
      directory = await fs.opendir(path.join(this.root, relative));
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    for await (const entry of directory) {
      if (entry.name.startsWith('.')) continue;
      const key = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.walk(key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        try {
          const stat = await fs.stat(path.join(this.root, key));
          yield { key, sizeBytes: stat.size, lastModified: stat.mtime };
        } catch (error) {
          if (!isMissing(error)) throw error;
        }
      }
    }
  }

  async createReadUrl(key: string, options: ReadUrlOptions): Promise<SignedUrl> {
    validateBlobKey(key);
    validateExpiry(options.expiresInSeconds);
    validateHeaderValue('Content-Disposition', options.contentDisposition);
    const expiresAt = this.expiry(options.expiresInSeconds);
    const url = createSignedBlobUrl({
      baseUrl: this.options.publicBaseUrl,
      secret: this.options.signingSecret,
      method: 'GET',
      key,
      expiresAt,
      ...(options.contentDisposition === undefined ? {} : { contentDisposition: options.contentDisposition }),
    });
    return { url, expiresAt };
  }

  async createWriteUrl(key: string, options: WriteUrlOptions): Promise<SignedWriteUrl> {
    validateBlobKey(key);
    validateExpiry(options.expiresInSeconds);
    validateHeaderValue('Content-Type', options.contentType);
    const expiresAt = this.expiry(options.expiresInSeconds);
    await fs.writeFile(this.grantPathOf(key), JSON.stringify({ key, expires_at: expiresAt.toISOString() }), {
      mode: 0o600,
      flush: true,
    });
    const url = createSignedBlobUrl({
      baseUrl: this.options.publicBaseUrl,
      secret: this.options.signingSecret,
      method: 'PUT',
      key,
      expiresAt,
      ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
      ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    });
    return {
      url,
      expiresAt,
      method: 'PUT',
      headers: options.contentType === undefined ? {} : { 'Content-Type': options.contentType },
    };
  }

  /** Checks a request against a link this store signed; throws `signed_url_invalid` / `signed_url_expired`. */
  verifySignedRequest(
    method: string,
    key: string,
    query: Readonly<Record<string, string | string[] | undefined>>,
  ): SignedBlobGrant {
    return verifySignedBlobUrl({ secret: this.options.signingSecret, method, key, query });
  }

  async close(): Promise<void> {}

  private expiry(seconds: number): Date {
    // Whole seconds: the link carries a Unix time, and `expiresAt` must say what it carries.
    return new Date(Math.floor(this.clock().getTime() / 1000) * 1000 + seconds * 1000);
  }

  private pathOf(key: string): string {
    validateBlobKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  private grantPathOf(key: string): string {
    validateBlobKey(key);
    return path.join(this.root, GRANTS_DIR, createHash('sha256').update(key).digest('hex'));
  }

  private metadataPathOf(key: string): string {
    validateBlobKey(key);
    return `${path.join(this.root, METADATA_DIR, ...key.split('/'))}.json`;
  }

  private async writeMetadata(key: string, metadata: SidecarMetadata): Promise<void> {
    const file = this.metadataPathOf(key);
    const temporary = path.join(this.root, TEMPORARY_DIR, `${randomUUID()}.json`);
    try {
      await fs.writeFile(temporary, JSON.stringify(metadata), { mode: 0o600, flag: 'wx', flush: true });
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await fs.rename(temporary, file);
    } catch (error) {
      await fs.rm(temporary, { force: true });
      throw error;
    }
  }

  /** The sidecar is trusted only when it describes a file of this size. */
  private async readMetadata(key: string, sizeBytes: number): Promise<SidecarMetadata | undefined> {
    try {
      const parsed = JSON.parse(await fs.readFile(this.metadataPathOf(key), 'utf8')) as Partial<SidecarMetadata>;
      if (parsed.size_bytes !== sizeBytes || typeof parsed.content_type !== 'string' || typeof parsed.sha256 !== 'string') {
        return undefined;
      }
      return parsed as SidecarMetadata;
    } catch (error) {
      if (isMissing(error) || error instanceof SyntaxError) return undefined;
      throw error;
    }
  }

  private async removeStaleTemporaries(): Promise<void> {
    const directory = path.join(this.root, TEMPORARY_DIR);
    const cutoff = Date.now() - STALE_TEMPORARY_MS;
    for (const name of await fs.readdir(directory)) {
      const file = path.join(directory, name);
      try {
        if ((await fs.stat(file)).mtimeMs < cutoff) await fs.rm(file, { force: true });
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
  }
}

function etagOf(stat: { size: number; mtimeMs: number }, metadata: SidecarMetadata | undefined): string {
  return metadata ? `"${metadata.sha256}"` : `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

/** Makes a rename durable: the new directory entry is on disk once this returns. */
async function fsyncDirectory(directory: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await fs.open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
