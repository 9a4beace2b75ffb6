import { describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import sharp from 'sharp';
import { PDFDocument } from 'pdf-lib';
import { PermanentProcessingError, processCsv, processImage, processPdf, processXlsx } from '../../src/processing/index.ts';
import { collect, streamOf } from './fixtures.ts';

const aborted = () => {
  const controller = new AbortController();
  controller.abort(new Error('job cancelled'));
  return controller.signal;
};

/** Cancellation is not a data error: the caller must see the signal's reason, never a PermanentProcessingError. */
describe('every processor honours an aborted signal', () => {
  it('tabular processors throw the abort reason and release the input', async () => {
    const workbook = new ExcelJS.Workbook();
    workbook.addWorksheet('S').addRow(['a']);
    const inputs = [
      [processCsv, streamOf('a,b\n1,2\n')],
      [processXlsx, streamOf(Buffer.from(await workbook.xlsx.writeBuffer()))],
    ] as const;
    for (const [processor, input] of inputs) {
      const error = await collect(processor(input, { signal: aborted() })).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ message: 'job cancelled' });
      expect(error).not.toBeInstanceOf(PermanentProcessingError);
      expect(input.destroyed).toBe(true);
    }
  });

  it('image and PDF processors throw the abort reason', async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'white' } })
      .png()
      .toBuffer();
    const document = await PDFDocument.create();
    document.addPage();
    const pdf = Buffer.from(await document.save());
    await expect(processImage(streamOf(png), { signal: aborted() })).rejects.toThrowError('job cancelled');
    await expect(processPdf(streamOf(pdf), { signal: aborted() })).rejects.toThrowError('job cancelled');
  });

  it('uses a forced CSV delimiter instead of detecting one', async () => {
    const { rows } = await collect(
      processCsv(streamOf('a;b,c\n1;2,3\n'), { signal: new AbortController().signal, delimiter: ',' }),
    );
    expect(rows).toEqual([{ row: 1, data: { 'a;b': '1;2', c: '3' } }]);
  });
});
