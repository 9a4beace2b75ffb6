import fs from 'node:fs';

/**
 * Benches print tables for people; `bench/all.ts` runs them as child processes and reads their
 * figures from the JSON file named by BENCH_RESULT_FILE instead of parsing those tables.
 */
export function writeBenchResult(result: unknown): void {
  const file = process.env.BENCH_RESULT_FILE;
  if (file) fs.writeFileSync(file, JSON.stringify(result));
}
