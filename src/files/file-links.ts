import { ERRORS } from '../errors/catalog.ts';
import type { BlobStore, SignedUrl } from '../storage/blob-store.ts';
import type { FileRow } from './file.schema.ts';
import { attachmentDisposition } from './filename.ts';

/** Time-limited links that download a file without credentials. */
export class FileLinks {
  constructor(
    private readonly blobs: BlobStore,
    private readonly maxLinkSeconds: number,
  ) {}

  /** Checked before the file is looked up, so a bad request is told so whatever the id. */
  checkExpiry(expiresInSeconds: number): void {
    if (expiresInSeconds > this.maxLinkSeconds) {
      throw ERRORS.validation([{ path: 'body.expires_in', message: `must be at most ${this.maxLinkSeconds} seconds` }]);
    }
  }

  async create(file: FileRow, expiresInSeconds: number): Promise<SignedUrl> {
    this.checkExpiry(expiresInSeconds);
    if (file.status === 'pending') throw ERRORS.conflict('The upload of this file has not been completed.');
    return this.blobs.createReadUrl(file.storageKey, {
      expiresInSeconds,
      contentDisposition: attachmentDisposition(file.filename),
    });
  }
}
