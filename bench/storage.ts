/**
 * Throughput and memory of blob writes and reads, per driver.
 *
 *   node --import tsx bench/storage.ts            # 256 MiB through baseline, local, Azurite
 *   BENCH_MIB=1024 node --import tsx bench/storage.ts
 *   S3_ENDPOINT=… S3_BUCKET=… node --import tsx bench/storage.ts   # adds S3
 *   BENCH_DRIVERS=azure AZURE_STORAGE_BLOCK_BYTES=4194304 node --import tsx bench/storage.ts
 *
 * "baseline" is the floor of this machine: the same bytes hashed and written to a file with
 * nothing else. Peak RSS is sampled in this process while each phase runs (Azurite runs in its
 * own process and is not counted).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadConfig } from '../src/config/config.ts';
import type { BlobStore } from '../src/storage/blob-store.ts';
import { createBlobStore } from '../src/storage/create-blob-store.ts';
import { startAzurite } from '../test/storage/azurite.ts';

const MIB = 1024 * 1024;
const totalMiB = Number(process.env.BENCH_MIB ?? 256);
const totalBytes = totalMiB * MIB;
const CHUNK = 64 * 1024;
// One random block reused: the source itself must not be what fills the memory.
const block = randomBytes(CHUNK);
const drivers = new Set((process.env.BENCH_DRIVERS ?? 'baseline,local,azure,s3').split(','));
// Tuning knobs pass through, so block sizes and concurrency can be compared.
const tuning = Object.fromEntries(
  Object.entries(process.env).filter(([name]) =>
    /^(AZURE_STORAGE_(BLOCK_BYTES|UPLOAD_CONCURRENCY)|S3_(PART_BYTES|UPLOAD_CONCURRENCY))$/.test(name),
  ),
);

function source(): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= totalBytes) {
        this.push(null);
        return;
      }
      sent += CHUNK;
      this.push(block);
    },
  });
}

interface Measure {
  seconds: number;
  peakRssMiB: number;
  rssGrowthMiB: number;
}

async function measure(run: () => Promise<void>): Promise<Measure> {
  globalThis.gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const started = performance.now();
  try {
    await run();
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  return { seconds: (performance.now() - started) / 1000, peakRssMiB: peak / MIB, rssGrowthMiB: (peak - baseline) / MIB };
}

const rows: string[][] = [];
function report(driver: string, phase: string, result: Measure): void {
  const row = [
    driver,
    phase,
    `${totalMiB} MiB`,
    (totalMiB / result.seconds).toFixed(0),
    result.peakRssMiB.toFixed(0),
    result.rssGrowthMiB.toFixed(0),
  ];
  rows.push(row);
  console.log(row.join('\t'));
}

async function benchBaseline(directory: string): Promise<void> {
  const file = path.join(directory, 'baseline.bin');
  const result = await measure(async () => {
    const hash = createHash('sha256');
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    await pipeline(source(), hashing, createWriteStream(file, { flush: true }));
    hash.digest('hex');
  });
  report('baseline (fs + sha256)', 'write', result);
  await fs.rm(file);
}

async function benchStore(driver: string, store: BlobStore): Promise<void> {
  const key = `bench/${Date.now()}.bin`;
  let size = 0;
  const write = await measure(async () => {
    size = (await store.put(key, source(), { contentType: 'application/octet-stream' })).sizeBytes;
  });
  if (size !== totalBytes) throw new Error(`${driver} stored ${size} bytes, expected ${totalBytes}`);
  report(driver, 'write', write);
  const read = await measure(async () => {
    const download = await store.get(key);
    await pipeline(download.stream, new Writable({ write: (_chunk, _encoding, callback) => callback() }));
  });
  report(driver, 'read', read);
  await store.delete(key);
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-bench-storage-'));
console.log(`node ${process.version}, ${os.cpus().length} CPUs, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM`);
console.log(['driver', 'phase', 'size', 'MB/s', 'peak RSS MiB', 'RSS growth MiB'].join('\t'));
try {
  if (drivers.has('baseline')) await benchBaseline(work);

  if (drivers.has('local')) {
    const local = await createBlobStore(loadConfig({ DATA_DIR: path.join(work, 'data') }).storage);
    await benchStore('local', local);
    await local.close();
  }

  if (drivers.has('azure')) {
    const azurite = await startAzurite({ location: await fs.mkdtemp(path.join(work, 'azurite-')) });
    try {
      const config = loadConfig({
        ...tuning,
        AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
        AZURE_STORAGE_CONTAINER: 'bench',
      });
      const { blockBytes, uploadConcurrency } = config.storage.azure;
      const azure = await createBlobStore(config.storage);
      await benchStore(`azure (Azurite on disk, ${blockBytes / MIB} MiB blocks × ${uploadConcurrency})`, azure);
      await azure.close();
    } finally {
      await azurite.stop();
    }
  }

  if (drivers.has('s3') && process.env.S3_ENDPOINT) {
    const s3 = await createBlobStore(loadConfig(process.env).storage);
    await benchStore('s3', s3);
    await s3.close();
  }
} finally {
  await fs.rm(work, { recursive: true, force: true });
}

console.log('\n| driver | phase | size | MB/s | peak RSS (MiB) | RSS growth (MiB) |\n| --- | --- | --- | --- | --- | --- |');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
