import { describe, expect, it } from 'vitest';
import { PDFDocument } from 'pdf-lib';
import { processPdf } from '../../src/processing/index.ts';
import { signal, streamOf } from './fixtures.ts';

describe('processPdf', () => {
  it('reads the page count and the document information', async () => {
    const document = await PDFDocument.create();
    for (let page = 0; page < 3; page += 1) document.addPage([200, 200]);
    document.setTitle('Quarterly report');
    document.setAuthor('Ann Example');
    document.setSubject('Numbers');
    document.setKeywords(['q1', 'report']);
    document.setCreationDate(new Date('2024-01-02T03:04:05Z'));
    document.setModificationDate(new Date('2024-02-03T04:05:06Z'));
    const bytes = Buffer.from(await document.save());

    const result = await processPdf(streamOf(bytes, 1024), { signal: signal() });
    expect(result).toMatchObject({
      pageCount: 3,
      version: expect.stringMatching(/^\d\.\d$/),
      encrypted: false,
      title: 'Quarterly report',
      author: 'Ann Example',
      subject: 'Numbers',
      keywords: 'q1 report',
      creationDate: '2024-01-02T03:04:05.000Z',
      modificationDate: '2024-02-03T04:05:06.000Z',
    });
  });

  it('leaves absent information undefined', async () => {
    const document = await PDFDocument.create({ updateMetadata: false });
    document.addPage();
    const result = await processPdf(streamOf(Buffer.from(await document.save()), 1024), { signal: signal() });
    expect(result).toMatchObject({ pageCount: 1, title: undefined, author: undefined, creationDate: undefined });
  });

  it('refuses bytes without a PDF header, and a PDF without a page tree, as bad data', async () => {
    await expect(processPdf(streamOf('hello'), { signal: signal() })).rejects.toMatchObject({ code: 'malformed_file' });
    await expect(processPdf(streamOf('%PDF-1.7\nnot really\n%%EOF'), { signal: signal() })).rejects.toMatchObject({
      code: 'malformed_file',
    });
  });

  it('refuses a PDF over the byte limit while reading it', async () => {
    const document = await PDFDocument.create();
    document.addPage();
    const bytes = Buffer.from(await document.save());
    await expect(processPdf(streamOf(bytes, 64), { signal: signal(), limits: { maxPdfBytes: 100 } })).rejects.toMatchObject({
      code: 'file_too_large',
    });
  });
});
