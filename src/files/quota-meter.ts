import { Transform, type TransformCallback } from 'node:stream';
import { isAppError } from '../errors/app-error.ts';
import type { QuotaLedger } from './file-ports.ts';

/** Bytes reserved at a time while an upload of unknown size streams: one update per MiB. */
const RESERVE_BLOCK_BYTES = 1024 * 1024;

/**
 * Passes an upload's bytes through while taking them from its owner's byte quota ahead of
 * storage, a block at a time, and fails the stream (`quota_exceeded`) at the chunk that the
 * quota cannot hold: usage never passes the limit, whatever runs at the same time. Without a
 * byte limit nothing is reserved on the way; `settle` records the bytes once stored.
 */
export class QuotaMeter extends Transform {
  private received = 0;

  constructor(
    private readonly ledger: QuotaLedger,
    private readonly ownerId: string,
    /** Bytes already reserved for this upload (a resumable upload reserves its length at creation). */
    private reserved: number,
    private readonly limited: boolean,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    if (!this.limited || this.received <= this.reserved) {
      callback(null, chunk);
      return;
    }
    this.reserveMore(this.received - this.reserved).then(
      () => callback(null, chunk),
      (error: unknown) => callback(error as Error),
    );
  }

  private async reserveMore(needed: number): Promise<void> {
    const block = Math.max(needed, RESERVE_BLOCK_BYTES);
    try {
      await this.ledger.reserve(this.ownerId, { bytes: block, files: 0 });
      this.reserved += block;
    } catch (error) {
      // A whole block may not fit where the bytes themselves still do.
      if (block === needed || !(isAppError(error) && error.code === 'quota_exceeded')) throw error;
      await this.ledger.reserve(this.ownerId, { bytes: needed, files: 0 });
      this.reserved += needed;
    }
  }

  /** Once stored: the usage becomes exactly the bytes received. */
  async settle(): Promise<void> {
    const delta = this.received - this.reserved;
    if (delta > 0) await this.ledger.charge(this.ownerId, { bytes: delta, files: 0 });
    if (delta < 0) await this.ledger.release(this.ownerId, { bytes: -delta, files: 0 });
    this.reserved = this.received;
  }

  /** When nothing is stored after all: gives back every reserved byte. */
  async releaseAll(): Promise<void> {
    const reserved = this.reserved;
    this.reserved = 0;
    if (reserved > 0) await this.ledger.release(this.ownerId, { bytes: reserved, files: 0 });
  }
}
