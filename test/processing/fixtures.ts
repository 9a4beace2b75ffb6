import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { RowRecord, TabularStream, TabularSummary } from '../../src/processing/index.ts';

export const signal = () => new AbortController().signal;

/** A stream of the bytes in small chunks, so every chunk boundary case gets exercised. */
export function streamOf(content: string | Buffer, chunkSize = 7): Readable {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  return Readable.from(
    (function* () {
      for (let start = 0; start < bytes.length; start += chunkSize) yield bytes.subarray(start, start + chunkSize);
    })(),
  );
}

export async function collect(stream: TabularStream): Promise<{ rows: RowRecord[]; summary: TabularSummary }> {
  const rows: RowRecord[] = [];
  for await (const batch of stream) rows.push(...batch);
  return { rows, summary: stream.summary() };
}

export interface ZipEntrySpec {
  name: string;
  data: Buffer;
  /** Lie about the inflated size in the headers, as a hostile archive would. */
  declaredSize?: number;
  store?: boolean;
}

/** A minimal zip writer (local headers, central directory, end record) for hostile archives. */
export function buildZip(entries: ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name);
    const compressed = entry.store ? entry.data : zlib.deflateRawSync(entry.data);
    const crc = zlib.crc32(entry.data);
    const size = entry.declaredSize ?? entry.data.length;
    const method = entry.store ? 0 : 8;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, compressed);
    centrals.push(central, name);
    offset += local.length + name.length + compressed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** The parts of a one-sheet workbook, around a given sheet XML. */
export function workbookParts(sheetXml: Buffer | string): ZipEntrySpec[] {
  return [
    {
      name: 'xl/workbook.xml',
      data: Buffer.from(
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>',
      ),
    },
    {
      name: 'xl/_rels/workbook.xml.rels',
      data: Buffer.from(
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
      ),
    },
    { name: 'xl/worksheets/sheet1.xml', data: typeof sheetXml === 'string' ? Buffer.from(sheetXml) : sheetXml },
  ];
}

/** A PNG whose header claims `width` × `height` pixels, with a token image data chunk. */
export function pngHeaderClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A generated tabular file, produced lazily in 64 KiB chunks, that records how many bytes it
 * has handed out and where each row ends, so a test can prove the processor reads only a
 * little ahead of the rows it has yielded instead of the whole input.
 */
export function generatedRows(options: { rows: number; prefix: string; row: (index: number) => string; suffix: string }): {
  stream: Readable;
  produced: () => number;
  rowEnd: (row: number) => number;
} {
  const ends = new Float64Array(options.rows + 1);
  let produced = 0;
  function* chunks() {
    let pending = options.prefix;
    let offset = Buffer.byteLength(options.prefix);
    for (let index = 1; index <= options.rows; index += 1) {
      const text = options.row(index);
      offset += Buffer.byteLength(text);
      ends[index] = offset;
      pending += text;
      if (pending.length >= 64 * 1024) {
        const bytes = Buffer.from(pending);
        produced += bytes.length;
        pending = '';
        yield bytes;
      }
    }
    const bytes = Buffer.from(pending + options.suffix);
    produced += bytes.length;
    yield bytes;
  }
  return {
    stream: Readable.from(chunks(), { highWaterMark: 1 }),
    produced: () => produced,
    rowEnd: (row) => ends[row]!,
  };
}
