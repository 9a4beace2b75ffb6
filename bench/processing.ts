/**
 * Throughput of the tabular processors (no database): generates a 1,000,000-row CSV of about
 * 100 MB (and the same rows as NDJSON and as a JSON array) in a temporary directory, streams
 * each through its processor and prints rows/s and the peak RSS.
 *
 * A format may carry what the processing job adds on top of parsing, so that the cost of each
 * shows beside plain parsing of the same file (generated once):
 *   `csv+types`               column types inferred from the sample and every cell converted
 *   `csv+types+windows-1252`  the same, the text decoded by iconv-lite as Windows-1252 instead
 *                             of Node's UTF-8 decoder (the rows are ASCII, so bytes and rows match)
 *
 * `xlsx` (not in the default list) writes the rows with ExcelJS's streaming writer, which is
 * slow: try it with 100000 rows.
 *
 *   node --import tsx bench/processing.ts [rows] [csv|csv+types|csv+types+windows-1252|ndjson|json|xlsx ...]
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { XLSX_MIME, processTabular } from '../src/processing/index.ts';

const rows = Number(process.argv[2] ?? 1_000_000);
const runs =
  process.argv.slice(3).length > 0 ? process.argv.slice(3) : ['csv', 'csv+types', 'csv+types+windows-1252', 'ndjson', 'json'];

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
  const generated = new Map<string, number>();
  for (const [index, run] of runs.entries()) {
    const [format, ...extras] = run.split('+') as [keyof typeof writers, ...string[]];
    if (!(format in writers)) throw new Error(`unknown format ${format}`);
    const inferTypes = extras.includes('types');
    const encoding = extras.find((extra) => extra !== 'types');
    const file = path.join(dir, `rows.${format}`);
    const size = generated.get(format) ?? (await generate(file, format));
    generated.set(format, size);
    global.gc?.();
    peakRss = process.memoryUsage.rss();
    const baseline = peakRss;
    const started = process.hrtime.bigint();
    const cpuBefore = process.cpuUsage();
    let parsed = 0;
    const stream = processTabular(writers[format].type, createReadStream(file, { highWaterMark: 256 * 1024 }), {
      signal: new AbortController().signal,
      inferTypes,
      ...(encoding ? { encoding } : {}),
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
      `${run.padEnd(22)} ${(size / MiB).toFixed(1)} MiB  ${parsed} rows in ${seconds.toFixed(2)} s  ` +
        `${Math.round(parsed / seconds).toLocaleString('en-US')} rows/s  ${(size / MiB / seconds).toFixed(1)} MiB/s  ` +
        `(CPU ${cpuSeconds.toFixed(2)} s, ${Math.round(parsed / cpuSeconds).toLocaleString('en-US')} rows per CPU-s)  ` +
        `peak RSS ${(peakRss / MiB).toFixed(0)} MiB (${(baseline / MiB).toFixed(0)} MiB before)`,
    );
    const later = runs.slice(index + 1).some((next) => next.split('+')[0] === format);
    if (!later) await rm(file);
  }
} finally {
  clearInterval(sampler);
  await rm(dir, { recursive: true, force: true });
}
