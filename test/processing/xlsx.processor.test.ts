import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import { processXlsx } from '../../src/processing/index.ts';
import { excelSerialToIso, isDateFormat } from '../../src/processing/xlsx.processor.ts';
import { buildZip, collect, signal, streamOf, workbookParts } from './fixtures.ts';

async function excelWorkbook(): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  const people = workbook.addWorksheet('People');
  people.addRow(['name', 'age', 'member']);
  people.addRow(['Ann', 31, true]);
  people.addRow(['Bob', 42.5, false]);
  people.addRow([]);
  people.addRow(['Cy', null, true, 'stray']);
  people.addRow(['Dee', { formula: '1+1', result: 2 }, true]);
  const other = workbook.addWorksheet('Other');
  other.addRow(['key']);
  other.addRow(['value']);
  return Buffer.from(await workbook.xlsx.writeBuffer());
}

const sheetXml = (rows: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>${rows}</sheetData></worksheet>`;

describe('processXlsx', () => {
  it('gives every cell of a merged range the value of its top-left cell, down and across, within the header', async () => {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('Teams');
    sheet.addRow(['team', 'from', 'to', 'person']);
    sheet.addRow(['Red', 'Mon', null, 'Ann']);
    sheet.addRow([null, 'Tue', 'Wed', 'Bob']);
    sheet.addRow([null, null, null, 'Cy']);
    sheet.addRow(['Blue', 'Thu', 'Fri', 'Dee', 'note']);
    sheet.mergeCells('A2:A4'); // Red, down three rows
    sheet.mergeCells('B2:C2'); // Mon, across two columns
    sheet.mergeCells('B3:C4'); // Tue, a block
    sheet.mergeCells('E5:F5'); // right of the header: still a row problem, not a new column
    const content = Buffer.from(await workbook.xlsx.writeBuffer());
    const { rows, summary } = await collect(processXlsx(streamOf(content, 4096), { signal: signal() }));
    expect(rows).toEqual([
      { row: 1, data: { team: 'Red', from: 'Mon', to: 'Mon', person: 'Ann' } },
      { row: 2, data: { team: 'Red', from: 'Tue', to: 'Tue', person: 'Bob' } },
      { row: 3, data: { team: 'Red', from: 'Tue', to: 'Tue', person: 'Cy' } },
    ]);
    expect(summary.problems).toMatchObject([{ row: 4, code: 'malformed_row' }]);
  });

  it('reads the first sheet of a workbook written by ExcelJS, numbering data rows under the header', async () => {
    const { rows, summary } = await collect(processXlsx(streamOf(await excelWorkbook(), 1000), { signal: signal(), sheet: 0 }));
    expect(rows).toEqual([
      { row: 1, data: { name: 'Ann', age: 31, member: true } },
      { row: 2, data: { name: 'Bob', age: 42.5, member: false } },
      { row: 5, data: { name: 'Dee', age: 2, member: true } },
    ]);
    expect(summary).toEqual({
      rows: 3,
      problemCount: 1,
      rejectedRows: 1,
      problems: [
        {
          row: 4,
          sheet: 'People',
          message: 'A value in column 4 has no header (the header has 3 columns).',
          code: 'malformed_row',
        },
      ],
      columns: ['name', 'age', 'member'],
      sheet: 'People',
      sheets: [{ name: 'People', index: 0, rows: 3, columns: ['name', 'age', 'member'] }],
    });
  });

  it('reads a sheet chosen by name or by position', async () => {
    const workbook = await excelWorkbook();
    const byName = await collect(processXlsx(streamOf(workbook, 4096), { signal: signal(), sheet: 'Other' }));
    const byIndex = await collect(processXlsx(streamOf(workbook, 4096), { signal: signal(), sheet: 1 }));
    // Sheet k's rows are stored after k × 1,048,576 (Excel's row limit), so sheets never collide.
    expect(byName.rows).toEqual([{ row: 1_048_576 + 1, data: { key: 'value' } }]);
    expect(byIndex).toEqual(byName);
  });

  it('fails with sheet_not_found for a sheet the workbook lacks', async () => {
    await expect(
      collect(processXlsx(streamOf(await excelWorkbook(), 4096), { signal: signal(), sheet: 'Missing' })),
    ).rejects.toMatchObject({ code: 'sheet_not_found', message: expect.stringContaining('"People", "Other"') });
  });

  it('turns date-formatted cells into ISO dates and leaves other numbers alone', async () => {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('Dates');
    sheet.addRow(['day', 'moment', 'count']);
    sheet.addRow([new Date(Date.UTC(2024, 1, 29)), new Date(Date.UTC(2024, 1, 29, 13, 45, 30)), 45_000]);
    sheet.getCell('B2').numFmt = 'yyyy-mm-dd hh:mm:ss';
    const bytes = Buffer.from(await workbook.xlsx.writeBuffer());
    const { rows } = await collect(processXlsx(streamOf(bytes, 4096), { signal: signal() }));
    expect(rows).toEqual([{ row: 1, data: { day: '2024-02-29', moment: '2024-02-29T13:45:30', count: 45_000 } }]);
  });

  it('converts serials in both date systems and recognises date formats', () => {
    expect(excelSerialToIso(1, false)).toBe('1900-01-01');
    expect(excelSerialToIso(45_000, false)).toBe('2023-03-15');
    expect(excelSerialToIso(0, true)).toBe('00:00:00');
    expect(excelSerialToIso(1, true)).toBe('1904-01-02');
    expect(excelSerialToIso(0.5, false)).toBe('12:00:00');
    expect(['yyyy-mm-dd', 'd/m/yy h:mm', '[$-409]mmm d', 'hh:mm'].every(isDateFormat)).toBe(true);
    expect(['0.00', '#,##0', '"days"0', 'General', '[Red]0'].some(isDateFormat)).toBe(false);
  });

  it('reads inline strings, empty cells as null and cells without references', async () => {
    const xml = sheetXml(
      '<row r="1"><c t="inlineStr"><is><t>a</t></is></c><c t="inlineStr"><is><t>b</t></is></c><c t="inlineStr"><is><t>c</t></is></c></row>' +
        '<row r="2"><c r="A2"><v>1</v></c><c r="C2" t="str"><v>x &amp; y</v></c></row>',
    );
    const { rows } = await collect(processXlsx(streamOf(buildZip(workbookParts(xml)), 512), { signal: signal() }));
    expect(rows).toEqual([{ row: 1, data: { a: 1, b: null, c: 'x & y' } }]);
  });

  it('refuses a file that is not a zip archive, or a zip that is not a workbook', async () => {
    await expect(collect(processXlsx(streamOf('not a zip at all'), { signal: signal() }))).rejects.toMatchObject({
      code: 'malformed_file',
    });
    const zip = buildZip([{ name: 'hello.txt', data: Buffer.from('hi') }]);
    await expect(collect(processXlsx(streamOf(zip), { signal: signal() }))).rejects.toMatchObject({ code: 'malformed_file' });
  });

  it('refuses a zip bomb by its declared compression ratio before inflating it', async () => {
    const zeros = Buffer.alloc(64 * 1024 * 1024);
    const bomb = buildZip(workbookParts(zeros));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    await expect(collect(processXlsx(streamOf(bomb, 65536), { signal: signal() }))).rejects.toMatchObject({
      code: 'zip_bomb',
      message: expect.stringContaining('inflates more than 250 times'),
    });
  });

  it('refuses a zip bomb that lies about its inflated size, while inflating', async () => {
    const zeros = Buffer.alloc(64 * 1024 * 1024);
    const liar = buildZip(workbookParts(zeros).map((part) => (part.data === zeros ? { ...part, declaredSize: 1000 } : part)));
    await expect(collect(processXlsx(streamOf(liar, 65536), { signal: signal() }))).rejects.toMatchObject({
      code: 'zip_bomb',
      message: expect.stringContaining('more than the 1000 bytes it declares'),
    });
  });

  it('refuses an archive whose parts inflate past the total budget', async () => {
    const incompressible = randomBytes(2 * 1024 * 1024);
    const zip = buildZip([...workbookParts(sheetXml('')), { name: 'xl/media/blob.bin', data: incompressible }]);
    await expect(
      collect(processXlsx(streamOf(zip, 65536), { signal: signal(), limits: { maxUncompressedBytes: 1024 * 1024 } })),
    ).rejects.toMatchObject({ code: 'zip_bomb' });
  });

  it('refuses an archive with too many entries', async () => {
    const entries = Array.from({ length: 50 }, (_, index) => ({ name: `junk/${index}.xml`, data: Buffer.from('<a/>') }));
    const zip = buildZip([...workbookParts(sheetXml('')), ...entries]);
    await expect(
      collect(processXlsx(streamOf(zip, 4096), { signal: signal(), limits: { maxZipEntries: 20 } })),
    ).rejects.toMatchObject({ code: 'zip_bomb', message: expect.stringContaining('53 entries') });
  });

  it('refuses shared strings larger than their cap', async () => {
    const strings = `<sst>${'<si><t>abcdefghij</t></si>'.repeat(2000)}</sst>`;
    const zip = buildZip([...workbookParts(sheetXml('')), { name: 'xl/sharedStrings.xml', data: Buffer.from(strings) }]);
    await expect(
      collect(processXlsx(streamOf(zip, 4096), { signal: signal(), limits: { maxSharedStringsBytes: 10_000 } })),
    ).rejects.toMatchObject({ code: 'zip_bomb' });
  });

  it('refuses a cell beyond the last Excel column', async () => {
    const xml = sheetXml('<row r="1"><c r="ZZZZZ1" t="inlineStr"><is><t>a</t></is></c></row>');
    await expect(collect(processXlsx(streamOf(buildZip(workbookParts(xml))), { signal: signal() }))).rejects.toMatchObject({
      code: 'malformed_file',
    });
  });

  it('refuses malformed sheet XML as bad data', async () => {
    const xml = sheetXml('<row r="1"><c><v>1</v></row>');
    await expect(collect(processXlsx(streamOf(buildZip(workbookParts(xml))), { signal: signal() }))).rejects.toMatchObject({
      code: 'malformed_file',
    });
  });

  it('removes its temporary spool file after success and after failure', async () => {
    const tempDir = await mkdtemp(path.join(os.tmpdir(), 'intake-xlsx-test-'));
    try {
      await collect(processXlsx(streamOf(await excelWorkbook(), 4096), { signal: signal(), limits: { tempDir } }));
      const bomb = buildZip(workbookParts(Buffer.alloc(8 * 1024 * 1024)));
      await expect(collect(processXlsx(streamOf(bomb, 4096), { signal: signal(), limits: { tempDir } }))).rejects.toMatchObject({
        code: 'zip_bomb',
      });
      await expect(
        collect(
          processXlsx(streamOf(await excelWorkbook(), 4096), { signal: signal(), limits: { tempDir, maxXlsxBytes: 1000 } }),
        ),
      ).rejects.toMatchObject({ code: 'file_too_large' });
      expect(await readdir(tempDir)).toEqual([]);
    } finally {
      await rm(tempDir, { recursive: true, force: true });
    }
  });
});
