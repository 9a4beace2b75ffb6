import path from 'node:path/posix';
import type { Readable } from 'node:stream';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { headerNames } from './csv.processor.ts';
import { spoolToTempFile } from './input-stream.ts';
import { PermanentProcessingError } from './processing-error.ts';
import { resolveLimits, type TabularOptions } from './processing-options.ts';
import { createTabularStream, rowBuilder, type RowRecord, type TabularContext, type TabularStream } from './tabular-stream.ts';
import { ZipArchive } from './zip-archive.ts';

/** Excel's own limit (XFD); also keeps a hostile `r="ZZZZZZ1"` from allocating a huge row. */
const MAX_COLUMNS = 16_384;
/** workbook.xml and its relationships are small in any real file. */
const MAX_WORKBOOK_PART_BYTES = 16 * 1024 * 1024;

/**
 * XLSX → rows, from one sheet (the first by default). The file is spooled to a temporary
 * file because a zip's index is at its end; the archive is then read under the zip limits
 * (entry count, inflated bytes, compression ratio). Shared strings are held in memory,
 * capped by `maxSharedStringsBytes`; the sheet itself is parsed as it inflates.
 *
 * The first row with a value is the header. `row` is the spreadsheet row number minus the
 * header's, so data row 1 is the row under the header. A value in a column with no header
 * is a row problem. Empty cells are `null`; numbers stay numbers (dates are Excel serials).
 */
export function processXlsx(input: Readable, options: TabularOptions): TabularStream {
  const limits = resolveLimits(options.limits);
  return createTabularStream('XLSX file', { ...options, limits }, (context) => readXlsx(input, options, context));
}

type Cell = string | number | boolean | null;

async function* readXlsx(input: Readable, options: TabularOptions, context: TabularContext): AsyncGenerator<RowRecord[]> {
  const { limits } = context;
  const spool = await spoolToTempFile(input, {
    signal: options.signal,
    maxBytes: limits.maxXlsxBytes,
    tempDir: limits.tempDir,
    what: 'XLSX file',
    onBytes: (bytes) => (context.bytesRead = bytes),
  });
  try {
    const archive = await ZipArchive.open(spool.path, limits, 'XLSX file');
    try {
      const workbook = await readWorkbook(archive);
      const sheet = pickSheet(workbook.sheets, options.sheet);
      context.sheet = sheet.name;
      const sharedStrings = workbook.sharedStringsPath
        ? await readSharedStrings(archive, workbook.sharedStringsPath, limits.maxSharedStringsBytes)
        : [];
      options.signal.throwIfAborted();
      yield* readSheet(archive, sheet.path, sharedStrings, context, options.signal);
    } finally {
      archive.close();
    }
  } finally {
    await spool.remove();
  }
}

interface SheetRef {
  name: string;
  path: string;
}

function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(colon + 1);
}

function attribute(tag: SaxesTagPlain, name: string): string | undefined {
  for (const [key, value] of Object.entries(tag.attributes)) if (localName(key) === name) return value;
  return undefined;
}

function xmlParser(part: string): SaxesParser {
  const parser = new SaxesParser({ position: false });
  parser.on('error', (error) => {
    throw new PermanentProcessingError('malformed_file', `${part} is not well-formed XML: ${error.message}`, { cause: error });
  });
  return parser;
}

async function parsePart(archive: ZipArchive, part: string, maxBytes: number, setup: (parser: SaxesParser) => void): Promise<void> {
  const parser = xmlParser(part);
  setup(parser);
  for await (const text of archive.text(part, maxBytes)) parser.write(text);
  parser.close();
}

function resolveTarget(target: string): string {
  return target.startsWith('/') ? target.slice(1) : path.normalize(path.join('xl', target));
}

async function readWorkbook(archive: ZipArchive): Promise<{ sheets: SheetRef[]; sharedStringsPath: string | undefined }> {
  if (!archive.entries.has('xl/workbook.xml')) {
    throw new PermanentProcessingError('malformed_file', 'The file is a zip archive but not an XLSX workbook.');
  }
  const declared: { name: string; id: string }[] = [];
  await parsePart(archive, 'xl/workbook.xml', MAX_WORKBOOK_PART_BYTES, (parser) =>
    parser.on('opentag', (tag) => {
      if (localName(tag.name) !== 'sheet') return;
      declared.push({ name: attribute(tag, 'name') ?? '', id: attribute(tag, 'id') ?? '' });
    }),
  );
  const targets = new Map<string, string>();
  let sharedStringsPath: string | undefined;
  if (archive.entries.has('xl/_rels/workbook.xml.rels')) {
    await parsePart(archive, 'xl/_rels/workbook.xml.rels', MAX_WORKBOOK_PART_BYTES, (parser) =>
      parser.on('opentag', (tag) => {
        if (localName(tag.name) !== 'Relationship') return;
        const target = attribute(tag, 'Target');
        const id = attribute(tag, 'Id');
        if (!target || !id) return;
        targets.set(id, resolveTarget(target));
        if (attribute(tag, 'Type')?.endsWith('/sharedStrings')) sharedStringsPath = resolveTarget(target);
      }),
    );
  }
  if (!sharedStringsPath && archive.entries.has('xl/sharedStrings.xml')) sharedStringsPath = 'xl/sharedStrings.xml';
  const sheets = declared.map((sheet, index) => ({
    name: sheet.name,
    path: targets.get(sheet.id) ?? `xl/worksheets/sheet${index + 1}.xml`,
  }));
  return { sheets: sheets.filter((sheet) => archive.entries.has(sheet.path)), sharedStringsPath };
}

function pickSheet(sheets: SheetRef[], wanted: string | number | undefined): SheetRef {
  const sheet = typeof wanted === 'string' ? sheets.find((candidate) => candidate.name === wanted) : sheets[wanted ?? 0];
  if (!sheet) {
    const available = sheets.map((candidate) => JSON.stringify(candidate.name)).join(', ') || 'none';
    throw new PermanentProcessingError(
      'sheet_not_found',
      `The workbook has no sheet ${JSON.stringify(wanted ?? 0)}; sheets: ${available}.`,
    );
  }
  return sheet;
}

async function readSharedStrings(archive: ZipArchive, part: string, maxBytes: number): Promise<string[]> {
  if (!archive.entries.has(part)) return [];
  const strings: string[] = [];
  let current = '';
  let inText = false;
  let phonetic = 0;
  await parsePart(archive, part, maxBytes, (parser) => {
    parser.on('opentag', (tag) => {
      const name = localName(tag.name);
      if (name === 'si') current = '';
      // Phonetic guides (rPh) annotate the text; they are not part of the value.
      else if (name === 'rPh') phonetic += 1;
      else if (name === 't' && phonetic === 0) inText = true;
    });
    parser.on('text', (text) => {
      if (inText) current += text;
    });
    parser.on('closetag', (tag) => {
      const name = localName(tag.name);
      if (name === 't') inText = false;
      else if (name === 'rPh') phonetic -= 1;
      else if (name === 'si') strings.push(current);
    });
  });
  return strings;
}

export function columnIndex(reference: string): number {
  let index = 0;
  for (let position = 0; position < reference.length; position += 1) {
    const code = reference.charCodeAt(position);
    if (code < 65 || code > 90) break;
    index = index * 26 + (code - 64);
    if (index > MAX_COLUMNS) break;
  }
  return index - 1;
}

async function* readSheet(
  archive: ZipArchive,
  part: string,
  sharedStrings: string[],
  context: TabularContext,
  signal: AbortSignal,
): AsyncGenerator<RowRecord[]> {
  const parser = xmlParser(part);
  const completed: { number: number; cells: Cell[] }[] = [];
  let rowNumber = 0;
  let cells: Cell[] = [];
  let column = -1;
  let cellType: string | undefined;
  let text = '';
  let capturing = false;
  let inCell = false;

  parser.on('opentag', (tag) => {
    switch (localName(tag.name)) {
      case 'row': {
        const declared = Number(attribute(tag, 'r'));
        rowNumber = Number.isInteger(declared) && declared > rowNumber ? declared : rowNumber + 1;
        cells = [];
        column = -1;
        break;
      }
      case 'c': {
        const reference = attribute(tag, 'r');
        column = reference ? columnIndex(reference) : column + 1;
        if (column < 0 || column >= MAX_COLUMNS) {
          throw new PermanentProcessingError('malformed_file', `${part} has a cell outside Excel's ${MAX_COLUMNS} columns.`);
        }
        cellType = attribute(tag, 't');
        text = '';
        inCell = true;
        break;
      }
      case 'v':
      case 't':
        if (inCell) capturing = true;
        break;
    }
  });
  parser.on('text', (value) => {
    if (capturing) text += value;
  });
  parser.on('closetag', (tag) => {
    switch (localName(tag.name)) {
      case 'v':
      case 't':
        capturing = false;
        break;
      case 'c':
        inCell = false;
        cells[column] = cellValue(cellType, text, sharedStrings);
        break;
      case 'row':
        completed.push({ number: rowNumber, cells });
        break;
    }
  });

  let header: string[] | undefined;
  let build: ReturnType<typeof rowBuilder> = () => ({});
  let headerRow = 0;
  for await (const chunk of archive.text(part)) {
    signal.throwIfAborted();
    parser.write(chunk);
    const records: RowRecord[] = [];
    for (const row of completed) {
      let last = row.cells.length - 1;
      while (last >= 0 && (row.cells[last] === undefined || row.cells[last] === null || row.cells[last] === '')) last -= 1;
      if (last < 0) continue;
      if (!header) {
        header = headerNames(Array.from({ length: last + 1 }, (_, index) => String(row.cells[index] ?? '')));
        headerRow = row.number;
        context.columns = header;
        build = rowBuilder(header);
        continue;
      }
      const dataRow = row.number - headerRow;
      if (last >= header.length) {
        context.problem(dataRow, `A value in column ${last + 1} has no header (the header has ${header.length} columns).`);
        continue;
      }
      records.push({ row: dataRow, data: build(row.cells, null) });
    }
    completed.length = 0;
    if (records.length > 0) yield records;
  }
  parser.close();
}

function cellValue(type: string | undefined, text: string, sharedStrings: string[]): Cell {
  switch (type) {
    case 's': {
      const value = sharedStrings[Number(text)];
      return value ?? null;
    }
    case 'b':
      return text === '1';
    case 'str':
    case 'inlineStr':
    case 'e':
    case 'd':
      return text;
    default: {
      if (text === '') return null;
      const number = Number(text);
      return Number.isFinite(number) ? number : text;
    }
  }
}
