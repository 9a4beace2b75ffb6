import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { PDFDocument } from 'pdf-lib';
import {
  SUPPORTED_CONTENT_TYPES,
  XLSX_MIME,
  contentTypeForFileName,
  sniffContent,
  supportedContentType,
} from '../../src/processing/index.ts';
import { buildZip } from './fixtures.ts';

const pixel = () => sharp({ create: { width: 2, height: 2, channels: 3, background: 'white' } });

describe('sniffContent', () => {
  it('accepts each supported type when the bytes agree', async () => {
    const pdf = await PDFDocument.create();
    pdf.addPage();
    const samples: [string, Buffer][] = [
      ['image/png', await pixel().png().toBuffer()],
      ['image/jpeg', await pixel().jpeg().toBuffer()],
      ['image/webp', await pixel().webp().toBuffer()],
      ['application/pdf', Buffer.from(await pdf.save())],
      [XLSX_MIME, buildZip([{ name: '[Content_Types].xml', data: Buffer.from('<Types/>') }])],
      ['text/csv; charset=utf-8', Buffer.from('\uFEFFname;ville\nAnn;Zürich\n')],
      ['application/json', Buffer.from(' \n[{"a":1}]')],
      ['application/x-ndjson', Buffer.from('{"a":1}\n{"a":2}\n')],
    ];
    for (const [type, bytes] of samples) expect([type, sniffContent(bytes, type)]).toEqual([type, { ok: true }]);
  });

  it('refuses bytes of another format than the declared one', async () => {
    const png = await pixel().png().toBuffer();
    expect(sniffContent(png, 'image/jpeg')).toEqual({
      ok: false,
      reason: 'The content is declared as image/jpeg but the bytes are PNG data.',
    });
    expect(sniffContent(png, 'text/csv')).toMatchObject({ ok: false });
    expect(sniffContent(Buffer.from('a,b\n1,2\n'), XLSX_MIME)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('no recognised format'),
    });
    expect(sniffContent(buildZip([{ name: 'x', data: Buffer.from('y') }]), 'application/pdf')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('a zip archive'),
    });
  });

  it('accepts CSV in a legacy encoding or UTF-16, and refuses binary data declared as CSV', () => {
    expect(sniffContent(Buffer.from([0x61, 0x2c, 0x62, 0x0a, 0xe9, 0x2c, 0x80, 0x0a]), 'text/csv')).toEqual({ ok: true });
    expect(sniffContent(Buffer.from('\uFEFFa;b\n1;2\n', 'utf16le'), 'text/csv')).toEqual({ ok: true });
    expect(sniffContent(Buffer.from('a,b\n1,\u00002\n'), 'text/csv')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('binary'),
    });
    const random = Buffer.from(Array.from({ length: 512 }, (_, index) => (index * 7919) % 256));
    expect(sniffContent(random, 'text/csv')).toMatchObject({ ok: false });
  });

  it('refuses JSON that is not UTF-8 or holds NUL bytes', () => {
    expect(sniffContent(Buffer.from([0x5b, 0x7b, 0x7d, 0x2c, 0xff, 0xfe, 0x5d]), 'application/json')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('not valid UTF-8'),
    });
    expect(sniffContent(Buffer.from('[{"a":"\u0000"}]'.replace('\\u0000', '\u0000')), 'application/json')).toMatchObject({
      ok: false,
    });
  });

  it('accepts a head cut in the middle of a multi-byte character', () => {
    const text = Buffer.from('name\nZürich\n東京');
    expect(sniffContent(text.subarray(0, text.length - 1), 'text/csv')).toEqual({ ok: true });
  });

  it('refuses JSON that is not an array and NDJSON that does not start with an object', () => {
    expect(sniffContent(Buffer.from('{"a":1}'), 'application/json')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('single object'),
    });
    expect(sniffContent(Buffer.from('hello'), 'application/json')).toMatchObject({ ok: false });
    expect(sniffContent(Buffer.from('[1,2]\n'), 'application/x-ndjson')).toMatchObject({ ok: false });
  });

  it('refuses empty files and unsupported declared types', () => {
    expect(sniffContent(Buffer.alloc(0), 'text/csv')).toEqual({ ok: false, reason: 'The file is empty.' });
    expect(sniffContent(Buffer.from('GIF89a'), 'image/gif')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('not a supported'),
    });
  });
});

describe('supported content types', () => {
  it('maps aliases, parameters and file extensions to one canonical MIME string', () => {
    expect(supportedContentType('Image/JPG')?.mime).toBe('image/jpeg');
    expect(supportedContentType('application/jsonl')?.mime).toBe('application/x-ndjson');
    expect(supportedContentType('text/csv; charset=UTF-8')?.kind).toBe('csv');
    expect(supportedContentType('application/octet-stream')).toBeUndefined();
    expect(contentTypeForFileName('Report.XLSX')?.mime).toBe(XLSX_MIME);
    expect(contentTypeForFileName('events.jsonl')?.kind).toBe('ndjson');
    expect(SUPPORTED_CONTENT_TYPES.map((type) => type.kind)).toEqual([
      'csv',
      'json',
      'ndjson',
      'xlsx',
      'png',
      'jpeg',
      'webp',
      'pdf',
    ]);
  });
});
