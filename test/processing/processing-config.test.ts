import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { DEFAULT_PROCESSING_LIMITS } from '../../src/processing/index.ts';

describe('processing configuration', () => {
  it('uses the default limits when nothing is set', () => {
    expect(loadConfig({}).processing).toEqual(DEFAULT_PROCESSING_LIMITS);
  });

  it('reads sizes in MiB and counts as given', () => {
    const config = loadConfig({
      PROCESSING_MAX_RECORD_MB: '2',
      PROCESSING_MAX_JSON_DEPTH: '16',
      PROCESSING_MAX_IMAGE_PIXELS: '1000000',
      PROCESSING_TEMP_DIR: '/var/tmp',
    });
    expect(config.processing).toMatchObject({
      maxRecordBytes: 2 * 1024 * 1024,
      maxJsonDepth: 16,
      maxImagePixels: 1_000_000,
      tempDir: '/var/tmp',
    });
  });

  it('refuses a nonsensical limit at boot with the variable named', () => {
    expect(() => loadConfig({ PROCESSING_MAX_JSON_DEPTH: '0' })).toThrowError(/PROCESSING_MAX_JSON_DEPTH/);
  });
});
