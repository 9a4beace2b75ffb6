import type { Readable } from 'node:stream';
import type { Metadata, OutputInfo } from 'sharp';
import { readBounded } from './input-stream.ts';
import { PermanentProcessingError } from './processing-error.ts';
import { resolveLimits, type ProcessOptions } from './processing-options.ts';

export type ImageFormat = 'png' | 'jpeg' | 'webp';

export interface ImageResult {
  /** As displayed, i.e. after applying the EXIF orientation. */
  width: number;
  height: number;
  format: ImageFormat;
  /** Whether the image has an alpha channel. */
  hasAlpha: boolean;
  thumbnail: {
    data: Buffer;
    contentType: 'image/webp';
    width: number;
    height: number;
  };
}

const SUPPORTED: ReadonlySet<string> = new Set<ImageFormat>(['png', 'jpeg', 'webp']);

/**
 * PNG, JPEG or WebP → dimensions, format and a WebP thumbnail (longest side at most
 * `thumbnailSize`, never enlarged) for the caller to store as a derived blob.
 *
 * sharp checks `limitInputPixels` against the header before decoding a single pixel, so a
 * decompression bomb (a tiny file claiming a gigapixel canvas) fails at once and cheaply.
 */
export async function processImage(input: Readable, options: ProcessOptions): Promise<ImageResult> {
  const limits = resolveLimits(options.limits);
  const report = (current: number, message: string) =>
    options.onProgress?.({ current, ...(options.totalBytes !== undefined ? { total: options.totalBytes } : {}), message });
  const bytes = await readBounded(input, options.signal, limits.maxImageBytes, 'image');
  report(bytes.length, 'read image');

  // Loaded at the first image: the native library costs start-up time and memory in every process.
  const { default: sharp } = await import('sharp');
  const decode = () => sharp(bytes, { limitInputPixels: limits.maxImagePixels, failOn: 'error', sequentialRead: true });
  let metadata: Metadata;
  try {
    metadata = await decode().metadata();
  } catch (error) {
    throw imageError(error);
  }
  if (!metadata.format || !SUPPORTED.has(metadata.format)) {
    throw new PermanentProcessingError(
      'unsupported_content_type',
      `The image is ${metadata.format ?? 'in an unknown format'}; PNG, JPEG and WebP are supported.`,
    );
  }
  const width = metadata.autoOrient?.width ?? metadata.width;
  const height = metadata.autoOrient?.height ?? metadata.height;
  if (!width || !height) throw new PermanentProcessingError('malformed_file', 'The image has no dimensions.');
  if (width * height > limits.maxImagePixels) throw pixelLimit(limits.maxImagePixels);
  options.signal.throwIfAborted();

  let thumbnail: { data: Buffer; info: OutputInfo };
  try {
    thumbnail = await decode()
      .autoOrient()
      .resize(limits.thumbnailSize, limits.thumbnailSize, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 80 })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw imageError(error);
  }
  options.signal.throwIfAborted();
  report(bytes.length, 'made thumbnail');
  return {
    width,
    height,
    format: metadata.format as ImageFormat,
    hasAlpha: metadata.hasAlpha ?? false,
    thumbnail: { data: thumbnail.data, contentType: 'image/webp', width: thumbnail.info.width, height: thumbnail.info.height },
  };
}

function pixelLimit(max: number): PermanentProcessingError {
  return new PermanentProcessingError('pixel_limit_exceeded', `The image has more than ${max} pixels.`);
}

/** sharp reports everything as a plain Error; every one of them is about these bytes. */
function imageError(error: unknown): PermanentProcessingError {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) {
    return new PermanentProcessingError('pixel_limit_exceeded', `The image exceeds the pixel limit: ${message}`, {
      cause: error,
    });
  }
  return new PermanentProcessingError('malformed_file', `The image cannot be decoded: ${message}`, { cause: error });
}
