import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { PermanentProcessingError, processImage } from '../../src/processing/index.ts';
import { pngHeaderClaiming, signal, streamOf } from './fixtures.ts';

const canvas = (width: number, height: number, channels: 3 | 4 = 3) =>
  sharp({ create: { width, height, channels, background: { r: 200, g: 40, b: 40, alpha: 0.5 } } });

describe('processImage', () => {
  it.each([
    ['png', () => canvas(1000, 500, 4).png().toBuffer(), true],
    ['jpeg', () => canvas(640, 480).jpeg().toBuffer(), false],
    ['webp', () => canvas(300, 600).webp().toBuffer(), false],
  ] as const)('reads the size of a %s image and makes a WebP thumbnail no larger than 256 px', async (format, make, alpha) => {
    const bytes = await make();
    const result = await processImage(streamOf(bytes, 4096), { signal: signal() });
    const source = await sharp(bytes).metadata();
    expect(result).toMatchObject({ width: source.width, height: source.height, format, hasAlpha: alpha });
    expect(result.thumbnail.contentType).toBe('image/webp');
    expect(Math.max(result.thumbnail.width, result.thumbnail.height)).toBe(256);
    const thumbnail = await sharp(result.thumbnail.data).metadata();
    expect(thumbnail).toMatchObject({ format: 'webp', width: result.thumbnail.width, height: result.thumbnail.height });
  });

  it('never enlarges a small image for its thumbnail', async () => {
    const result = await processImage(streamOf(await canvas(40, 20).png().toBuffer(), 4096), { signal: signal() });
    expect(result.thumbnail).toMatchObject({ width: 40, height: 20 });
  });

  it('refuses a decompression bomb from its header alone', async () => {
    const bomb = pngHeaderClaiming(100_000, 100_000);
    expect(bomb.length).toBeLessThan(2048);
    const error = await processImage(streamOf(bomb, 512), { signal: signal() }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PermanentProcessingError);
    expect(error).toMatchObject({ code: 'pixel_limit_exceeded' });
  });

  it('applies a lower configured pixel limit', async () => {
    const bytes = await canvas(200, 200).png().toBuffer();
    await expect(
      processImage(streamOf(bytes, 4096), { signal: signal(), limits: { maxImagePixels: 10_000 } }),
    ).rejects.toMatchObject({
      code: 'pixel_limit_exceeded',
    });
  });

  it('refuses bytes that are no image, and supported-by-sharp formats we do not accept', async () => {
    await expect(processImage(streamOf('certainly not an image'), { signal: signal() })).rejects.toMatchObject({
      code: 'malformed_file',
    });
    const gif = await canvas(10, 10).gif().toBuffer();
    await expect(processImage(streamOf(gif), { signal: signal() })).rejects.toMatchObject({ code: 'unsupported_content_type' });
  });

  it('refuses an image larger than the byte limit while reading it', async () => {
    const bytes = await canvas(500, 500).png({ compressionLevel: 0 }).toBuffer();
    await expect(
      processImage(streamOf(bytes, 4096), { signal: signal(), limits: { maxImageBytes: 10_000 } }),
    ).rejects.toMatchObject({
      code: 'file_too_large',
    });
  });
});
