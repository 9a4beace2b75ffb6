import path from 'node:path/posix';
import type { Readable } from 'node:stream';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { headerNames } from './csv.processor.ts';
import { spoolToTempFile } from './input-stream.ts';
import { PermanentProcessingError } from './processing-error.ts';
import { resolveLimits, type TabularOptions } from './processing-options.ts';
import {
  createTabularStream,
  rowBuilder,
  SHEET_ROW_SPAN,
  type RowRecord,
  type TabularContext,
  type TabularStream,
} from './tabular-stream.ts';
import { ZipArchive } from './zip-archive.ts';

/** Excel's own limit (XFD); also keeps a hostile `r="ZZZZZZ1"` from allocating a huge row. */
const MAX_COLUMNS = 16_384;
/** workbook.xml and its relationships are small in any real file. */
const MAX_WORKBOOK_PART_BYTES = 16 * 1024 * 1024;

/**
 * XLSX → rows, from every sheet (or those named by `sheets`, or the one `sheet` chooses). The file is spooled to a temporary
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
      const chosen = chooseSheets(workbook.sheets, options);
      const sharedStrings = workbook.sharedStringsPath
        ? await readSharedStrings(archive, workbook.sharedStringsPath, limits.maxSharedStringsBytes)
        : [];
      const dateStyles = workbook.stylesPath ? await readDateStyles(archive, workbook.stylesPath) : [];
      options.signal.throwIfAborted();
      const lookups = { sharedStrings, dateStyles, date1904: workbook.date1904 };
      for (const { sheet, index } of chosen) {
        context.sheet = sheet.name;
        context.columns = [];
        const offset = index * SHEET_ROW_SPAN;
        const counted = { rows: 0 };
        for await (const records of readSheet(archive, sheet.path, lookups, context, options.signal)) {
          counted.rows += records.length;
          if (offset > 0) for (const record of records) record.row += offset;
          yield records;
        }
        context.sheets.push({ name: sheet.name, index, rows: counted.rows, columns: [...context.columns] });
      }
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
  // The unprefixed name is the common case and a plain property read; this runs per cell.
  const attributes = tag.attributes as Record<string, string>;
  const direct = attributes[name];
  if (direct !== undefined) return direct;
  for (const key in attributes) if (key.endsWith(`:${name}`)) return attributes[key];
  return undefined;
}

function xmlParser(part: string): SaxesParser {
  const parser = new SaxesParser({ position: false });
  parser.on('error', (error) => {
    throw new PermanentProcessingError('malformed_file', `${part} is not well-formed XML: ${error.message}`, { cause: error });
  });
  return parser;
}

async function parsePart(
  archive: ZipArchive,
  part: string,
  maxBytes: number,
  setup: (parser: SaxesParser) => void,
): Promise<void> {
  const parser = xmlParser(part);
  setup(parser);
  for await (const text of archive.text(part, maxBytes)) parser.write(text);
  parser.close();
}

function resolveTarget(target: string): string {
  return target.startsWith('/') ? target.slice(1) : path.normalize(path.join('xl', target));
}

interface Workbook {
  sheets: SheetRef[];
  sharedStringsPath: string | undefined;
  stylesPath: string | undefined;
  date1904: boolean;
}

async function readWorkbook(archive: ZipArchive): Promise<Workbook> {
  if (!archive.entries.has('xl/workbook.xml')) {
    throw new PermanentProcessingError('malformed_file', 'The file is a zip archive but not an XLSX workbook.');
  }
  const declared: { name: string; id: string }[] = [];
  let date1904 = false;
  await parsePart(archive, 'xl/workbook.xml', MAX_WORKBOOK_PART_BYTES, (parser) =>
    parser.on('opentag', (tag) => {
      const name = localName(tag.name);
      if (name === 'workbookPr') {
        const value = attribute(tag, 'date1904');
        date1904 = value === '1' || value === 'true';
      }
      if (name !== 'sheet') return;
      declared.push({ name: attribute(tag, 'name') ?? '', id: attribute(tag, 'id') ?? '' });
    }),
  );
  const targets = new Map<string, string>();
  let sharedStringsPath: string | undefined;
  let stylesPath: string | undefined;
  if (archive.entries.has('xl/_rels/workbook.xml.rels')) {
    await parsePart(archive, 'xl/_rels/workbook.xml.rels', MAX_WORKBOOK_PART_BYTES, (parser) =>
      parser.on('opentag', (tag) => {
        if (localName(tag.name) !== 'Relationship') return;
        const target = attribute(tag, 'Target');
        const id = attribute(tag, 'Id');
        if (!target || !id) return;
        targets.set(id, resolveTarget(target));
        const type = attribute(tag, 'Type');
        if (type?.endsWith('/sharedStrings')) sharedStringsPath = resolveTarget(target);
        if (type?.endsWith('/styles')) stylesPath = resolveTarget(target);
      }),
    );
  }
  if (!sharedStringsPath && archive.entries.has('xl/sharedStrings.xml')) sharedStringsPath = 'xl/sharedStrings.xml';
  if (!stylesPath && archive.entries.has('xl/styles.xml')) stylesPath = 'xl/styles.xml';
  const sheets = declared.map((sheet, index) => ({
    name: sheet.name,
    path: targets.get(sheet.id) ?? `xl/worksheets/sheet${index + 1}.xml`,
  }));
  return { sheets: sheets.filter((sheet) => archive.entries.has(sheet.path)), sharedStringsPath, stylesPath, date1904 };
}

const MAX_SHEETS = 2048;

/** The sheets to read: those named (in workbook order), the one chosen, or all of them. */
function chooseSheets(sheets: SheetRef[], options: TabularOptions): { sheet: SheetRef; index: number }[] {
  if (sheets.length > MAX_SHEETS) {
    throw new PermanentProcessingError('malformed_file', `The workbook has more than ${MAX_SHEETS} sheets.`);
  }
  if (options.sheet !== undefined) {
    const sheet = pickSheet(sheets, options.sheet);
    return [{ sheet, index: sheets.indexOf(sheet) }];
  }
  const all = sheets.map((sheet, index) => ({ sheet, index }));
  if (!options.sheets || options.sheets.length === 0) return all;
  for (const wanted of options.sheets) pickSheet(sheets, wanted);
  return all.filter(({ sheet }) => options.sheets!.includes(sheet.name));
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

/** Excel's built-in number formats that show dates or times. */
const BUILT_IN_DATE_FORMATS = new Set([
  14, 15, 16, 17, 18, 19, 20, 21, 22, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 45, 46, 47, 50, 51, 52, 53, 54, 55, 56, 57, 58,
]);

export function isDateFormat(code: string): boolean {
  // Quoted text, escaped characters and [colour]/[locale] blocks can hold any letter.
  const stripped = code
    .replace(/"[^"]*"/g, '')
    .replace(/\\./g, '')
    .replace(/\[[^\]]*\]/g, '');
  return /[dmyhs]/i.test(stripped) && !/^general$/i.test(stripped.trim());
}

/** For each cell style index, whether its number format shows a date, so serials can be turned into dates. */
async function readDateStyles(archive: ZipArchive, part: string): Promise<boolean[]> {
  if (!archive.entries.has(part)) return [];
  const customDate = new Map<number, boolean>();
  const styles: boolean[] = [];
  let inCellXfs = false;
  await parsePart(archive, part, MAX_WORKBOOK_PART_BYTES, (parser) => {
    parser.on('opentag', (tag) => {
      const name = localName(tag.name);
      if (name === 'numFmt') customDate.set(Number(attribute(tag, 'numFmtId')), isDateFormat(attribute(tag, 'formatCode') ?? ''));
      else if (name === 'cellXfs') inCellXfs = true;
      else if (name === 'xf' && inCellXfs) {
        const id = Number(attribute(tag, 'numFmtId') ?? 0);
        styles.push(customDate.get(id) ?? BUILT_IN_DATE_FORMATS.has(id));
      }
    });
    parser.on('closetag', (tag) => {
      if (localName(tag.name) === 'cellXfs') inCellXfs = false;
    });
  });
  return styles;
}

const DAY_MS = 86_400_000;

/**
 * An Excel date serial as ISO 8601 without a zone (Excel dates have none): a date, a
 * date-time, or a time of day for serials under 1.
 */
export function excelSerialToIso(serial: number, date1904: boolean): string {
  // Day 0 of the 1900 system is 1899-12-30 once Excel's phantom 1900-02-29 is allowed for.
  const epoch = date1904 ? Date.UTC(1904, 0, 1) : Date.UTC(1899, 11, 30);
  const days = !date1904 && serial < 61 ? serial + 1 : serial;
  const iso = new Date(epoch + Math.round(days * DAY_MS)).toISOString();
  if (serial >= 0 && serial < 1) return iso.slice(11, 19);
  if (Number.isInteger(serial)) return iso.slice(0, 10);
  return iso.endsWith('.000Z') ? iso.slice(0, 19) : iso.slice(0, 23);
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

/** Cell and row attributes (r, t, s) are unprefixed in SpreadsheetML: read them directly. */
function plainAttribute(tag: SaxesTagPlain, name: string): string | undefined {
  return (tag.attributes as Record<string, string>)[name];
}

/** A merged range of cells, 1-based rows and 0-based columns, both ends included. */
interface MergedRange {
  top: number;
  bottom: number;
  left: number;
  right: number;
  value: Cell;
}

/** More merged ranges than any real sheet holds; the list is kept in memory while the sheet streams. */
const MAX_MERGED_RANGES = 100_000;
const MERGE_CELLS_START = /<(?:[\w.-]+:)?mergeCells[\s>]/;
const MERGE_CELL_REF = /<(?:[\w.-]+:)?mergeCell\s[^>]*?\bref="([A-Z]{1,3})(\d{1,7}):([A-Z]{1,3})(\d{1,7})"/g;

/**
 * The sheet's merged ranges. They are listed after the rows in the XML, so the sheet is read
 * ahead once for them (inflated, searched as text, not parsed) before its rows stream.
 */
async function readMergedRanges(archive: ZipArchive, part: string): Promise<MergedRange[]> {
  const ranges: MergedRange[] = [];
  let tail = '';
  let inMerges = false;
  for await (const text of archive.text(part, Number.POSITIVE_INFINITY, { counted: false })) {
    let chunk = tail + text;
    if (!inMerges) {
      const start = chunk.search(MERGE_CELLS_START);
      if (start === -1) {
        tail = chunk.slice(-64);
        continue;
      }
      inMerges = true;
      chunk = chunk.slice(start);
    }
    const end = chunk.lastIndexOf('>') + 1;
    for (const match of chunk.slice(0, end).matchAll(MERGE_CELL_REF)) {
      const [, left, top, right, bottom] = match;
      ranges.push({
        top: Number(top),
        bottom: Number(bottom),
        left: columnIndex(left!),
        right: Math.min(columnIndex(right!), MAX_COLUMNS - 1),
        value: null,
      });
      if (ranges.length > MAX_MERGED_RANGES) {
        throw new PermanentProcessingError('malformed_file', `${part} has more than ${MAX_MERGED_RANGES} merged ranges.`);
      }
    }
    tail = chunk.slice(end);
  }
  return ranges.filter((range) => range.bottom >= range.top && range.right >= range.left).sort((a, b) => a.top - b.top);
}

/**
 * Gives every cell of a merged range the value of its top-left cell, as a person reading the
 * sheet sees it (Excel keeps the value in that cell only). Rows arrive in order; a range is
 * active from its top row to its bottom row. Cells right of the header are left alone.
 */
class MergeFiller {
  private next = 0;
  private active: MergedRange[] = [];

  constructor(private readonly ranges: MergedRange[]) {}

  fill(number: number, cells: Cell[], width: number): void {
    if (this.ranges.length === 0) return;
    while (this.next < this.ranges.length && this.ranges[this.next]!.top <= number) {
      const range = this.ranges[this.next]!;
      this.next += 1;
      if (range.top === number) {
        range.value = cells[range.left] ?? null;
        this.active.push(range);
      }
    }
    this.active = this.active.filter((range) => range.bottom >= number);
    for (const range of this.active) {
      const right = Math.min(range.right, width - 1);
      for (let column = range.left; column <= right; column += 1) {
        if (number !== range.top || column !== range.left) cells[column] = range.value;
      }
    }
  }
}

async function* readSheet(
  archive: ZipArchive,
  part: string,
  lookups: CellLookups,
  context: TabularContext,
  signal: AbortSignal,
): AsyncGenerator<RowRecord[]> {
  const merges = new MergeFiller(await readMergedRanges(archive, part));
  const parser = xmlParser(part);
  const completed: { number: number; cells: Cell[] }[] = [];
  let rowNumber = 0;
  let cells: Cell[] = [];
  let column = -1;
  let cellType: string | undefined;
  let cellStyle = 0;
  let text = '';
  let capturing = false;
  let inCell = false;

  parser.on('opentag', (tag) => {
    switch (localName(tag.name)) {
      case 'row': {
        const declared = Number(plainAttribute(tag, 'r'));
        rowNumber = Number.isInteger(declared) && declared > rowNumber ? declared : rowNumber + 1;
        cells = [];
        column = -1;
        break;
      }
      case 'c': {
        const reference = plainAttribute(tag, 'r');
        column = reference ? columnIndex(reference) : column + 1;
        if (column < 0 || column >= MAX_COLUMNS) {
          throw new PermanentProcessingError('malformed_file', `${part} has a cell outside Excel's ${MAX_COLUMNS} columns.`);
        }
        cellType = plainAttribute(tag, 't');
        cellStyle = Number(plainAttribute(tag, 's') ?? 0);
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
        cells[column] = cellValue(cellType, cellStyle, text, lookups);
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
      merges.fill(row.number, row.cells, header ? header.length : MAX_COLUMNS);
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
        const message = `A value in column ${last + 1} has no header (the header has ${header.length} columns).`;
        context.reject(dataRow, row.cells.slice(0, last + 1), [{ code: 'malformed_row', message }]);
        continue;
      }
      records.push({ row: dataRow, data: build(row.cells, null) });
    }
    completed.length = 0;
    if (records.length > 0) yield records;
  }
  parser.close();
}

interface CellLookups {
  sharedStrings: string[];
  dateStyles: boolean[];
  date1904: boolean;
}

function cellValue(type: string | undefined, style: number, text: string, lookups: CellLookups): Cell {
  switch (type) {
    case 's': {
      const value = lookups.sharedStrings[Number(text)];
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
      if (!Number.isFinite(number)) return text;
      return lookups.dateStyles[style] === true ? excelSerialToIso(number, lookups.date1904) : number;
    }
  }
}
