import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { RejectedRow } from '../processing/index.ts';
import { csvCell } from '../http/csv-cell.ts';
import type { FileRow } from './file.schema.ts';
import { filePrefix } from './file-keys.ts';

/** Where a file's correction file lives: beside the original, so deleting the file removes it. */
export function problemsKey(file: Pick<FileRow, 'ownerId' | 'id'>): string {
  return `${filePrefix(file.ownerId, file.id)}problems.csv`;
}

/**
 * The rows a run left out, as CSV a person can fix in a spreadsheet and upload alone: the
 * file's own header and cells, then `_row` (the row number in the upload), `_sheet` for a
 * workbook, and `_problems` (the reasons). Written to a private temporary file as rows are
 * rejected (synchronous writes keep memory flat, however many rows fail), stored when the run ends.
 */
export class CorrectionFile {
  private fd: number | undefined;
  private dir: string | undefined;
  private header: readonly string[] | undefined;
  private pending = '';
  count = 0;

  constructor(private readonly tempDir: string | undefined) {}

  async open(): Promise<void> {
    this.dir = await mkdtemp(path.join(this.tempDir ?? os.tmpdir(), 'intake-problems-'));
    this.fd = openSync(path.join(this.dir, 'problems.csv'), 'w', 0o600);
    // A BOM so that Excel opens the UTF-8 text with its accents intact.
    this.pending = '\uFEFF';
  }

  add(rejected: RejectedRow): void {
    if (this.fd === undefined) return;
    if (this.header !== rejected.columns) {
      // A workbook's sheets have their own headers: a new one starts a new block.
      if (this.header !== undefined) this.pending += '\r\n';
      this.header = rejected.columns;
      this.pending += line([...rejected.columns, '_row', ...(rejected.sheet === undefined ? [] : ['_sheet']), '_problems']);
    }
    const cells = rejected.cells ?? [];
    const values = rejected.columns.map((_, index) => cells[index] ?? '');
    const reasons = rejected.problems.map((problem) =>
      problem.column ? `${problem.column}: ${problem.message}` : problem.message,
    );
    this.pending += line([
      ...values,
      rejected.row,
      ...(rejected.sheet === undefined ? [] : [rejected.sheet]),
      reasons.join(' | '),
    ]);
    this.count += 1;
    if (this.pending.length >= 64 * 1024) this.flush();
  }

  private flush(): void {
    if (this.fd !== undefined && this.pending !== '') writeSync(this.fd, this.pending);
    this.pending = '';
  }

  /** The finished file as a stream, or undefined when no row was rejected. */
  finish(): Readable | undefined {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (this.count === 0 || !this.dir) return undefined;
    return createReadStream(path.join(this.dir, 'problems.csv'), { start: 0 });
  }

  async remove(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

function line(values: readonly unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}
