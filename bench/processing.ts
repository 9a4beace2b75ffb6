/**
 * Parse-only throughput of the tabular processors (no database): generates a 1,000,000-row
 * CSV of about 100 MB (and the same rows as NDJSON and as a JSON array) in a temporary
 * directory, streams each through its processor and prints rows/s and the peak RSS.
 *
 * `xlsx` (not in the default list) writes the rows with ExcelJS's streaming writer, which is
 * slow: try it with 100000 rows.
 *
 *   node --import tsx bench/processing.ts [rows] [csv|ndjson|json|xlsx ...]
 *   INFER_TYPES=1 ENCODING=windows-1252 node --import tsx bench/processing.ts 1000000 csv
 *     (types inferred and converted; the text decoded by iconv-lite instead of Node's UTF-8 decoder)
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { XLSX_MIME, processTabular } from '../src/processing/index.ts';

const rows = Number(process.argv[2] ?? 1_000_000);
const formats = process.argv.slice(3).length > 0 ? process.argv.slice(3) : ['csv', 'ndjson', 'json'];

interface Row {
  id: number;
  name: string;
  email: string;
  amount: string;
  created_at: string;
  note: string;
}

function row(index: number): Row {
  return {
    id: index,
    name: `Customer ${index}`,
    email: `customer${index}@example.com`,
    amount: (index * 7.31).toFixed(2),
    created_at: new Date(1_700_000_000_000 + index * 1000).toISOString(),
    note: index % 10 === 0 ? 'needs "review", later' : 'regular customer',
  };
}

const csvCell = (value: string | number) => {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

const writers = {
  csv: {
    type: 'text/csv',
    head: 'id,name,email,amount,created_at,note\n',
    line: (r: Row, _i: number) => `${Object.values(r).map(csvCell).join(',')}\n`,
    tail: '',
  },
  ndjson: { type: 'application/x-ndjson', head: '', line: (r: Row, _i: number) => `${JSON.stringify(r)}\n`, tail: '' },
  json: {
    type: 'application/json',
    head: '[\n',
    line: (r: Row, i: number) => `${i > 1 ? ',\n' : ''}${JSON.stringify(r)}`,
    tail: '\n]\n',
  },
  xlsx: { type: XLSX_MIME, head: '', line: (_r: Row, _i: number) => '', tail: '' },
} as const;

async function generateXlsx(file: string): Promise<number> {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: file, useSharedStrings: true });
  const sheet = workbook.addWorksheet('Rows');
  sheet.addRow(['id', 'name', 'email', 'amount', 'created_at', 'note']).commit();
  for (let index = 1; index <= rows; index += 1) sheet.addRow(Object.values(row(index))).commit();
  sheet.commit();
  await workbook.commit();
  return (await stat(file)).size;
}

async function generate(file: string, format: keyof typeof writers): Promise<number> {
  if (format === 'xlsx') return generateXlsx(file);
  const writer = writers[format];
  const out = createWriteStream(file);
  let buffer = writer.head;
  for (let index = 1; index <= rows; index += 1) {
    buffer += writer.line(row(index), index);
    if (buffer.length > 1 << 20) {
      if (!out.write(buffer)) await once(out, 'drain');
      buffer = '';
    }
  }
  out.end(buffer + writer.tail);
  await once(out, 'finish');
  return (await stat(file)).size;
}

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50);
const dir = await mkdtemp(path.join(os.tmpdir(), 'intake-bench-'));
const MiB = 1024 * 1024;
console.log(`node ${process.version}, ${os.cpus().length} cores, ${rows} rows per file`);
try {
  for (const format of formats as (keyof typeof writers)[]) {
    if (!(format in writers)) throw new Error(`unknown format ${format}`);
    const file = path.join(dir, `rows.${format}`);
    const size = await generate(file, format);
    global.gc?.();
    peakRss = process.memoryUsage.rss();
    const baseline = peakRss;
    const started = process.hrtime.bigint();
    const cpuBefore = process.cpuUsage();
    let parsed = 0;
    const stream = processTabular(writers[format].type, createReadStream(file, { highWaterMark: 256 * 1024 }), {
      signal: new AbortController().signal,
      // INFER_TYPES=1 measures type inference and conversion (what the processing job does for CSV/XLSX).
      inferTypes: process.env.INFER_TYPES === '1',
      ...(process.env.ENCODING ? { encoding: process.env.ENCODING } : {}),
    });
    for await (const batch of stream) {
      parsed += batch.length;
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuBefore);
    // CPU time is reported too: on a shared 2-core machine wall time varies with other load.
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const summary = stream.summary();
    if (parsed !== rows || summary.problemCount !== 0)
      throw new Error(`expected ${rows} rows, got ${parsed} (${summary.problemCount} problems)`);
    console.log(
      `${format.padEnd(6)} ${(size / MiB).toFixed(1)} MiB  ${parsed} rows in ${seconds.toFixed(2)} s  ` +
        `${Math.round(parsed / seconds).toLocaleString('en-US')} rows/s  ${(size / MiB / seconds).toFixed(1)} MiB/s  ` +
        `(CPU ${cpuSeconds.toFixed(2)} s, ${Math.round(parsed / cpuSeconds).toLocaleString('en-US')} rows per CPU-s)  ` +
        `peak RSS ${(peakRss / MiB).toFixed(0)} MiB (${(baseline / MiB).toFixed(0)} MiB before)`,
    );
    await rm(file);
  }
} finally {
  clearInterval(sampler);
  await rm(dir, { recursive: true, force: true });
}
