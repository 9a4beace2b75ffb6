import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { schema, type Schema } from './schema.ts';
import { acquireDirectoryLock, type DirectoryLock } from './directory-lock.ts';
import { redactUrl } from '../config/config-spec.ts';

/**
 * What the raw results of both drivers share (PGlite's `Results`, node-postgres' `QueryResult`):
 * the rows. Typing `execute` with it lets raw SQL (claims with SKIP LOCKED, counts) read rows
 * without caring which engine answered.
 */
export interface RowsResultHKT extends PgQueryResultHKT {
  readonly type: { rows: Record<string, unknown>[] };
}

export type Db = PgDatabase<RowsResultHKT, Schema>;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));

/** Same key in every process, so concurrent boots of a scaled fleet migrate one at a time. */
const MIGRATION_LOCK_KEY = 7_261_004_311;

export interface Database {
  readonly kind: 'pglite' | 'postgres';
  readonly db: Db;
  /** Where the data lives, for start-up messages; the URL's password is masked. */
  readonly location: string;
  migrate(): Promise<void>;
  ping(): Promise<void>;
  /**
   * One parameterized statement on the underlying driver. Job handlers running in a worker
   * thread reach the embedded database through this (PGlite allows one connection, owned by
   * the main thread).
   */
  query(text: string, params: unknown[], rowMode: 'array' | 'object'): Promise<{ rows: unknown[] }>;
  /**
   * LISTEN on a channel (a constant identifier, never user input). Resolves to the function
   * that stops listening. PostgreSQL: one dedicated connection outside the pool.
   */
  listen(channel: string, onNotification: (payload: string) => void): Promise<() => Promise<void>>;
  /** Connections of the pool (PostgreSQL): open, idle, and callers waiting for one. PGlite has no pool. */
  poolUsage?(): { total: number; idle: number; waiting: number; max: number };
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url: string | undefined;
  dataDir: string;
  poolSize: number;
  /** PGlite only; see `useBaselineWasmCompiler`. Default false. */
  pgliteWasmTierUp?: boolean;
}

/**
 * Each driver (and its drizzle adapter) is loaded only when chosen: a process on PostgreSQL does
 * not load PGlite's WebAssembly glue, an embedded one not node-postgres.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.url
    ? openPostgres(options.url, options.poolSize)
    : openPglite(options.dataDir, options.pgliteWasmTierUp ?? false);
}

/**
 * PGlite is PostgreSQL compiled to WebAssembly. V8 runs it with its baseline compiler (Liftoff)
 * and, by default, recompiles every function that gets hot with its optimising one (TurboFan).
 * At start-up that is most of PostgreSQL's boot and catalogue code, run a few times and never
 * again: measured with bench/start.ts, the recompiling costs ~0.5 s of CPU before the first
 * `/health` answer and leaves ~60 MiB of machine code resident, while bulk ingest gains ~10%.
 * So the embedded database stays on the baseline compiler unless PGLITE_WASM_TIER_UP asks
 * otherwise. The flag is read when a WebAssembly module is compiled, so it is set before PGlite
 * compiles its own; it also applies to the few small modules Node itself compiles later (its HTTP
 * parser for fetch), which run cold anyway.
 */
function useBaselineWasmCompiler(tierUp: boolean): void {
  if (!tierUp) v8.setFlagsFromString('--liftoff-only');
}

async function openPglite(dataDir: string, tierUp: boolean): Promise<Database> {
  const directory = path.join(dataDir, 'pglite');
  fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
  // PGlite is single-process: a second process on the same directory would corrupt it.
  const lock: DirectoryLock = acquireDirectoryLock(dataDir, 'pglite');
  let client: PGlite;
  const [{ PGlite }, { drizzle: drizzlePglite }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('drizzle-orm/pglite'),
  ]).catch((error: unknown) => {
    lock.release();
    throw error;
  });
  try {
    if (!fs.existsSync(path.join(directory, 'PG_VERSION'))) await initdbInChild(directory);
    useBaselineWasmCompiler(tierUp);
    client = await PGlite.create(directory, { startParams: [...PGlite.defaultStartParams, ...PGLITE_SETTINGS] });
  } catch (error) {
    lock.release();
    throw error;
  }
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  let closed = false;
  return {
    kind: 'pglite',
    db,
    location: directory,
    async migrate() {
      const { migrate: migratePglite } = await import('drizzle-orm/pglite/migrator');
      await migratePglite(drizzlePglite(client, { schema }), { migrationsFolder: MIGRATIONS_FOLDER });
    },
    async ping() {
      if (closed) throw new Error('database is closed');
      await db.execute(sql`select 1`);
    },
    async query(text, params, rowMode) {
      const result = await client.query(text, params, { rowMode });
      return { rows: result.rows as unknown[] };
    },
    async listen(channel, onNotification) {
      const unlisten = await client.listen(channel, onNotification);
      return async () => {
        if (!closed) await unlisten();
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      await client.close();
      lock.release();
    },
  };
}

/**
 * PGlite's defaults with 16 MB of shared buffers instead of PostgreSQL's 128 MB: they live in the
 * process's WebAssembly memory, and the operating system's page cache still holds the data files.
 * An idle `intake serve` holds about 130 MiB less.
 */
const PGLITE_SETTINGS = ['-c', 'shared_buffers=16MB'];

/**
 * Creates a new PGlite data directory in a short-lived child process, from the build's template
 * when there is one (else by `initdb`). `initdb` leaves ~500 MiB
 * of WebAssembly memory behind in the process that ran it (and a worker thread's copy is not all
 * handed back to the system); the service then opens the new directory as it opens any other.
 */
async function initdbInChild(directory: string): Promise<void> {
  // Created beside and renamed into place: a start killed part-way leaves no half a cluster.
  const fresh = fs.mkdtempSync(`${directory}.initdb-`);
  try {
    await runInitdb(fresh);
    fs.rmSync(directory, { recursive: true, force: true });
    fs.renameSync(fresh, directory);
  } finally {
    fs.rmSync(fresh, { recursive: true, force: true });
  }
}

/**
 * Where the child imports PGlite from: the ESM entry beside the CommonJS one `require.resolve`
 * finds (`import.meta.resolve` is not there when a test runner loads this module).
 */
function pgliteModuleUrl(): string {
  const commonJsEntry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  return pathToFileURL(path.join(path.dirname(commonJsEntry), 'index.js')).href;
}

/**
 * A database made by `npm run build` (scripts/pglite-template.ts), migrations applied: unpacking
 * it takes a fraction of `initdb` and the migrations. Found from src/db and dist/db alike.
 */
const PGLITE_TEMPLATE = fileURLToPath(new URL('../../dist/pglite-template.tar.gz', import.meta.url));

async function runInitdb(directory: string): Promise<void> {
  const script = `const [directory, module, template] = process.argv.slice(1);
const { PGlite } = await import(module);
const { readFileSync } = await import('node:fs');
const client = await PGlite.create(directory, template ? { loadDataDir: new Blob([readFileSync(template)]) } : {});
await client.close();`;
  const template = fs.existsSync(PGLITE_TEMPLATE) ? PGLITE_TEMPLATE : '';
  // A one-shot process: optimised code would be thrown away with it.
  const child = spawn(
    process.execPath,
    ['--liftoff-only', '--input-type=module', '-e', script, directory, pgliteModuleUrl(), template],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: process.env,
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4_000)));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  if (code !== 0) throw new Error(`PGlite could not create ${directory} (${code ?? signal}): ${stderr.trim()}`);
}

async function openPostgres(url: string, poolSize: number): Promise<Database> {
  const [{ default: pg }, { drizzle: drizzlePostgres }] = await Promise.all([import('pg'), import('drizzle-orm/node-postgres')]);
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'intake',
  });
  // An idle client that loses its server emits on the pool; unhandled, that kills the process.
  pool.on('error', () => undefined);
  const db = drizzlePostgres(pool, { schema }) as unknown as Db;
  let closed = false;
  return {
    kind: 'postgres',
    db,
    location: redactUrl(url),
    async migrate() {
      const client = await pool.connect();
      try {
        await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        try {
          const { migrate: migratePostgres } = await import('drizzle-orm/node-postgres/migrator');
          await migratePostgres(drizzlePostgres(client, { schema }), { migrationsFolder: MIGRATIONS_FOLDER });
        } finally {
          await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
        }
      } finally {
        client.release();
      }
    },
    async ping() {
      await pool.query('select 1');
    },
    poolUsage() {
      return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: poolSize };
    },
    async query(text, params, rowMode) {
      const result = await pool.query({ text, values: params, ...(rowMode === 'array' ? { rowMode: 'array' as const } : {}) });
      return { rows: result.rows as unknown[] };
    },
    async listen(channel, onNotification) {
      if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name ${channel}`);
      const listener = new pg.Client({ connectionString: url, application_name: 'intake-listen' });
      // A lost listening connection only costs latency (workers still poll); it must not crash.
      listener.on('error', () => undefined);
      listener.on('notification', (message) => {
        if (message.channel === channel) onNotification(message.payload ?? '');
      });
      await listener.connect();
      await listener.query(`LISTEN ${channel}`);
      return async () => {
        await listener.end().catch(() => undefined);
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
