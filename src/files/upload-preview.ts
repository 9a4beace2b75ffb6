import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isAppError } from '../errors/app-error.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { ImportSchemaDefinition, ProcessingLimits } from '../processing/index.ts';
import { ContentInspector } from './content-inspector.ts';
import type { ContentPolicy } from './content-policy.ts';
import type { IncomingFile } from './file-ports.ts';
import { previewUpload, type FilePreview } from './file-preview.ts';
import type { FileImportOptions } from './file.schema.ts';
import { sanitizeFilename } from './filename.ts';

/**
 * `POST /files?dry_run=true`: one uploaded file read as processing would read it, answered as
 * a preview, with nothing written anywhere (no row, no blob, no job, no quota). The part gets
 * the checks a real upload gives it (allowed type, bytes that agree with it, the size limit),
 * so a dry run that passes says the upload would be accepted.
 */
export class UploadPreviewer {
  constructor(
    private readonly policy: Pick<ContentPolicy, 'acceptedType'>,
    private readonly schemaOf: (ownerId: string, schemaId: string) => Promise<ImportSchemaDefinition>,
    private readonly limits: Readonly<ProcessingLimits>,
    private readonly maxUploadBytes: number,
  ) {}

  async preview(
    ownerId: string,
    parts: AsyncIterable<IncomingFile>,
    options: { rows: number; importOptions: FileImportOptions | undefined },
  ): Promise<FilePreview> {
    const importOptions = options.importOptions ?? {};
    const schema = importOptions.schema_id ? await this.schemaOf(ownerId, importOptions.schema_id) : undefined;
    let preview: FilePreview | undefined;
    for await (const part of parts) {
      if (part.fieldName !== 'files' || preview) {
        part.stream.resume();
        throw ERRORS.badRequest('A dry run previews one file: send exactly one part named "files".');
      }
      const filename = sanitizeFilename(part.filename);
      let type;
      try {
        type = this.policy.acceptedType(part.declaredType, filename);
      } catch (error) {
        part.stream.resume();
        throw error;
      }
      const inspector = new ContentInspector(type, filename);
      const checked = pipeline(part.stream, new ByteLimit(this.maxUploadBytes, filename), inspector);
      const reading = previewUpload(type, inspector, {
        rows: options.rows,
        limits: this.limits,
        importOptions,
        ...(schema ? { schema } : {}),
      }).catch((error: unknown) => {
        // A reader that gave up must not leave the upload waiting on it.
        inspector.destroy();
        throw error;
      });
      const [read, piped] = await Promise.allSettled([reading, checked]);
      // The checks' verdict (415, 413) explains more than a reader cut short, and the reader's more than a closed pipe.
      if (piped.status === 'rejected' && isAppError(piped.reason)) throw piped.reason;
      if (read.status === 'rejected') throw read.reason;
      if (piped.status === 'rejected') throw piped.reason;
      preview = read.value;
    }
    if (!preview) throw ERRORS.badRequest('The request holds no file; send one part named "files".');
    return preview;
  }
}

/** Fails a stream that goes past `maxBytes`, as storage would for a real upload. */
class ByteLimit extends Transform {
  private seen = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly filename: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.maxBytes) return callback(ERRORS.fileTooLarge(this.maxBytes, this.filename));
    callback(null, chunk);
  }
}
