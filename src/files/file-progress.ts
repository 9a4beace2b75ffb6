import type { JobProgress } from '../jobs/jobs.schema.ts';

export const PROCESSING_STEPS = ['validate', 'parse', 'transform', 'store', 'clean up'] as const;

/** Parsing, transforming and storing rows happen together while the file streams: steps 1 to 4. */
const STREAM_FROM = 1;
const STREAM_TO = 3 + 1;

/** Without a byte count, rows are reported every this many (the old behaviour). */
const ROWS_PER_REPORT = 10_000;

/**
 * The progress of one file's processing, as steps of PROCESSING_STEPS. While rows stream, the
 * share of the file's bytes the parser has read moves `current` smoothly from step 1 to step 4
 * (fractional), so a large CSV climbs from 20 % to 80 % instead of sitting at one step with only
 * a row count. Reports are written to the job row, so one is sent only when the percent moved by
 * a whole point; `current` never goes back.
 */
export class FileProgress {
  private current = 0;
  private reportedPercent = -1;
  private bytesRead = 0;
  private totalBytes: number | undefined;
  private rowsReported = 0;

  constructor(private readonly report: (progress: JobProgress) => Promise<void>) {}

  /** Enters a step (and reports it, whatever the throttle). */
  async step(index: number, detail?: string): Promise<void> {
    await this.send(index, detail ? `${PROCESSING_STEPS[index]}: ${detail}` : (PROCESSING_STEPS[index] ?? null));
  }

  /** The parser's position in the file; called synchronously as it reads. */
  readonly bytes = (progress: { current: number; total?: number }): void => {
    this.bytesRead = progress.current;
    if (progress.total !== undefined && progress.total > 0) this.totalBytes = progress.total;
  };

  /** After each batch of rows: reports when the byte share moved the percent, or every 10,000 rows without one. */
  async rowsStored(rows: number): Promise<void> {
    const message = `${PROCESSING_STEPS[3]}: ${rows} rows`;
    if (this.totalBytes === undefined) {
      if (rows - this.rowsReported < ROWS_PER_REPORT) return;
      this.rowsReported = rows;
      await this.send(3, message);
      return;
    }
    const share = Math.min(1, this.bytesRead / this.totalBytes);
    const current = STREAM_FROM + (STREAM_TO - STREAM_FROM) * share;
    if (percentOf(current) <= this.reportedPercent) return;
    await this.send(Math.round(current * 1000) / 1000, message);
  }

  async done(): Promise<void> {
    await this.send(PROCESSING_STEPS.length, 'done');
  }

  private async send(current: number, message: string | null): Promise<void> {
    this.current = Math.max(this.current, current);
    this.reportedPercent = percentOf(this.current);
    await this.report({ current: this.current, total: PROCESSING_STEPS.length, message });
  }
}

function percentOf(current: number): number {
  return Math.floor((current / PROCESSING_STEPS.length) * 100);
}
