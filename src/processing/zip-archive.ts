import { StringDecoder } from 'node:string_decoder';
import yauzl from 'yauzl';
import { PermanentProcessingError } from './processing-error.ts';

/** Entries smaller than this once inflated are too small to matter for the ratio check. */
const RATIO_CHECK_FLOOR = 1024 * 1024;

export interface ZipLimits {
  maxZipEntries: number;
  maxUncompressedBytes: number;
  maxCompressionRatio: number;
}

const zipBomb = (message: string) => new PermanentProcessingError('zip_bomb', message);

/**
 * A zip archive read defensively: the entry count and every entry's declared sizes are
 * checked before anything is inflated, and the bytes actually inflated are counted against
 * one budget for the whole archive, because declared sizes are whatever the attacker wrote.
 */
export class ZipArchive {
  private remaining: number;

  private constructor(
    private readonly zip: yauzl.ZipFile,
    readonly entries: ReadonlyMap<string, yauzl.Entry>,
    private readonly limits: ZipLimits,
  ) {
    this.remaining = limits.maxUncompressedBytes;
  }

  static async open(path: string, limits: ZipLimits, what: string): Promise<ZipArchive> {
    let zip: yauzl.ZipFile;
    try {
      zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
        yauzl.open(
          path,
          { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false },
          (error, file) => (error ? reject(error) : resolve(file)),
        ),
      );
    } catch (error) {
      throw new PermanentProcessingError('malformed_file', `The ${what} is not a valid zip archive.`, { cause: error });
    }
    try {
      if (zip.entryCount > limits.maxZipEntries) {
        throw zipBomb(`The ${what} lists ${zip.entryCount} entries; the limit is ${limits.maxZipEntries}.`);
      }
      const entries = new Map<string, yauzl.Entry>();
      let declared = 0;
      for await (const entry of zip.eachEntry()) {
        declared += entry.uncompressedSize;
        checkRatio(entry.fileName, entry.uncompressedSize, entry.compressedSize, limits.maxCompressionRatio);
        entries.set(entry.fileName, entry);
      }
      if (declared > limits.maxUncompressedBytes) {
        throw zipBomb(`The ${what} would inflate to ${declared} bytes; the limit is ${limits.maxUncompressedBytes}.`);
      }
      return new ZipArchive(zip, entries, limits);
    } catch (error) {
      zip.close();
      if (error instanceof PermanentProcessingError) throw error;
      throw new PermanentProcessingError('malformed_file', `The ${what} is not a valid zip archive.`, { cause: error });
    }
  }

  /**
   * The entry's inflated text, chunk by chunk; `maxBytes` caps this entry on top of the budget.
   * A look-ahead read (`counted: false`, an entry that is read again afterwards) is held to
   * the budget that remains without spending it: the read that follows spends it.
   */
  async *text(name: string, maxBytes = Number.POSITIVE_INFINITY, options: { counted?: boolean } = {}): AsyncGenerator<string> {
    const counted = options.counted ?? true;
    const entry = this.entries.get(name);
    if (!entry) throw new PermanentProcessingError('malformed_file', `The archive has no ${name}.`);
    const decoder = new StringDecoder('utf8');
    let inflated = 0;
    let stream;
    try {
      stream = await this.zip.openReadStreamPromise(entry);
    } catch (error) {
      throw new PermanentProcessingError('malformed_file', `${name} cannot be read from the archive.`, { cause: error });
    }
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        inflated += chunk.length;
        if (counted) this.remaining -= chunk.length;
        if (counted ? this.remaining < 0 : inflated > this.remaining) {
          throw zipBomb(`The archive inflates to more than ${this.limits.maxUncompressedBytes} bytes.`);
        }
        if (inflated > maxBytes) throw zipBomb(`${name} inflates to more than ${maxBytes} bytes.`);
        checkRatio(name, inflated, entry.compressedSize, this.limits.maxCompressionRatio);
        yield decoder.write(chunk);
      }
    } catch (error) {
      if (error instanceof PermanentProcessingError) throw error;
      // yauzl's own checks (an entry larger than it declared, a bad deflate stream) are about the data.
      if (/too many bytes/.test((error as Error).message)) {
        throw zipBomb(`${name} inflates to more than the ${entry.uncompressedSize} bytes it declares.`);
      }
      throw new PermanentProcessingError('malformed_file', `${name} is corrupt: ${(error as Error).message}`, { cause: error });
    } finally {
      stream.destroy();
    }
    const rest = decoder.end();
    if (rest) yield rest;
  }

  close(): void {
    this.zip.close();
  }
}

function checkRatio(name: string, inflated: number, compressed: number, maxRatio: number): void {
  if (inflated > RATIO_CHECK_FLOOR && inflated > Math.max(compressed, 1) * maxRatio) {
    throw zipBomb(`${name} inflates more than ${maxRatio} times its compressed size.`);
  }
}
