import { createHash } from 'node:crypto';
import { and, eq, inArray, isNull, lte, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { jobs, type JobRow } from './jobs.schema.ts';

/**
 * The statements every job runs through (insert, claim, start, success, dispatch), built once
 * and prepared. Building a statement with drizzle cost ~125 µs of CPU per no-op job (a multi-row
 * insert alone ~95 µs), more than node-postgres spent sending and parsing them; on PostgreSQL a
 * named statement is also parsed and planned once per connection instead of once per call.
 * What varies per call travels as parameters: id lists as one comma-separated text, per-row
 * values as one JSON object keyed by job id, and the time as `now` (null: the database's clock).
 */

/** One name per statement text: pooled connections are shared by every store in the process. */
function nameOf(query: { toSQL(): { sql: string } }): string {
  return `intake_jobs_${createHash('sha1').update(query.toSQL().sql).digest('hex').slice(0, 20)}`;
}

const NOW = sql`coalesce(${sql.placeholder('now')}::timestamptz, now())`;
const IDS = sql`${jobs.id} = any(string_to_array(${sql.placeholder('ids')}::text, ',')::uuid[])`;

/** `NOW` plus a number of seconds. */
function nowPlus(seconds: SQL): SQL {
  return sql`${NOW} + make_interval(secs => ${seconds})`;
}

/** The columns that name a job in its events (see `JobEventSubject`). */
export const SUBJECT_COLUMNS = {
  id: jobs.id,
  type: jobs.type,
  queue: jobs.queue,
  attempts: jobs.attempts,
  ownerId: jobs.ownerId,
  fileId: jobs.fileId,
};
export type SubjectRow = Pick<JobRow, keyof typeof SUBJECT_COLUMNS>;

/** The columns a status event needs (see `StatusRow`), instead of the whole row with its payload. */
export const STATUS_COLUMNS = {
  ...SUBJECT_COLUMNS,
  status: jobs.status,
  error: jobs.error,
};
export type StatusRow = Pick<JobRow, keyof typeof STATUS_COLUMNS>;

/**
 * What an enqueue answers and BullMQ's dispatch reads. Every column returned costs parsing and
 * mapping (a timestamp ~1 µs); a full row is 25 columns, payload and nine timestamps included.
 */
export const ENQUEUED_COLUMNS = {
  id: jobs.id,
  queue: jobs.queue,
  type: jobs.type,
  status: jobs.status,
  maxAttempts: jobs.maxAttempts,
  runAt: jobs.runAt,
};
export type EnqueuedRow = Pick<JobRow, keyof typeof ENQUEUED_COLUMNS>;

/** What running an attempt reads: the payload, the lease, and what its events and outcome name. */
export const CLAIMED_COLUMNS = {
  ...STATUS_COLUMNS,
  maxAttempts: jobs.maxAttempts,
  payload: jobs.payload,
  leaseToken: jobs.leaseToken,
};
export type ClaimedRow = Pick<JobRow, keyof typeof CLAIMED_COLUMNS>;

/** One input row of a batch insert; `delaySeconds` 0 runs it now. */
export interface InsertRow {
  id: string;
  queue: string;
  type: string;
  version: number;
  ownerId: string | null;
  fileId: string | null;
  payload: unknown;
  maxAttempts: number;
  idempotencyKey: string | null;
  delaySeconds: number;
  dispatched: boolean;
}

const INSERT_FIELDS = [
  'id',
  'queue',
  'type',
  'version',
  'ownerId',
  'fileId',
  'payload',
  'maxAttempts',
  'idempotencyKey',
  'delaySeconds',
  'dispatched',
] as const satisfies readonly (keyof InsertRow)[];

/** The placeholder names of the insert's row `index` (`id0`, `queue0`, …), made once rather than for every value of every batch. */
const placeholderNamesByRow: string[][] = [];
function placeholderNames(index: number): string[] {
  let names = placeholderNamesByRow[index];
  if (!names) {
    names = INSERT_FIELDS.map((field) => `${field}${index}`);
    placeholderNamesByRow[index] = names;
  }
  return names;
}

/** One BullMQ attempt's start, as the start statements write it. */
export interface StartWrite {
  attempt: number;
  leaseToken: string;
  workerId: string;
  leaseMs: number;
}

/** One successful attempt's end, fenced by its lease token. */
export interface SuccessWrite {
  leaseToken: string;
  result: unknown;
}

/** A start's entry in a statement's JSON parameter, read back by `startedColumns`. */
function startEntry(input: StartWrite) {
  return { n: input.attempt, t: input.leaseToken, w: input.workerId, l: input.leaseMs / 1000 };
}

/** A success's entry in a statement's JSON parameter (`r`: the result, `t`: the lease it holds). */
function successEntry(input: SuccessWrite) {
  return { t: input.leaseToken, r: input.result };
}

/** What a start writes, from the row's entry `write` (see `startEntry`): the start alone and beside successes. */
function startedColumns(write: SQL) {
  return {
    status: 'running' as const,
    // BullMQ does not count a stalled attempt (a dead worker); the row does, as the embedded queue does.
    attempts: sql`greatest(${jobs.attempts} + 1, (${write} ->> 'n')::int)`,
    leaseToken: sql`(${write} ->> 't')::uuid`,
    lockedBy: sql`${write} ->> 'w'`,
    lockedUntil: nowPlus(sql`(${write} ->> 'l')::double precision`),
    heartbeatAt: NOW,
    startedAt: sql`coalesce(${jobs.startedAt}, ${NOW})`,
    dispatchedAt: sql`coalesce(${jobs.dispatchedAt}, ${NOW})`,
  };
}

/** A start is refused by a row that was cancelled (or has ended) meanwhile. */
const START_FENCE = and(inArray(jobs.status, ['queued', 'running']), isNull(jobs.cancelRequestedAt));

/** An end is refused by a row whose lease went to another attempt. */
function successFence(write: SQL): SQL | undefined {
  return and(eq(jobs.status, 'running'), sql`${jobs.leaseToken} = (${write} ->> 't')::uuid`);
}

export class JobStatements {
  private readonly inserts = new Map<number, ReturnType<JobStatements['buildInsert']>>();
  private readonly claims = new Map<string, ReturnType<JobStatements['buildClaim']>>();
  private readonly startStatement;
  private readonly succeedStatement;
  private readonly dispatchedStatement;
  private readonly startAndSucceedStatement;

  constructor(
    private readonly db: Db,
    private readonly retentionMs: number,
    /** The store's clock, if a test set one. */
    private readonly clock: (() => Date) | undefined,
  ) {
    this.startStatement = this.buildStart();
    this.succeedStatement = this.buildSucceed();
    this.dispatchedStatement = this.buildDispatched();
    this.startAndSucceedStatement = this.buildStartAndSucceed();
  }

  private now(): string | null {
    return this.clock ? this.clock().toISOString() : null;
  }

  /** Rows of a batch, in any order; an idempotency key already taken inserts nothing for its row. */
  insert(rows: readonly InsertRow[]): Promise<EnqueuedRow[]> {
    let statement = this.inserts.get(rows.length);
    if (!statement) {
      statement = this.buildInsert(rows.length);
      this.inserts.set(rows.length, statement);
    }
    const values: Record<string, unknown> = { now: this.now() };
    rows.forEach((row, index) => {
      const names = placeholderNames(index);
      INSERT_FIELDS.forEach((field, position) => {
        values[names[position] as string] = row[field];
      });
    });
    return statement.execute(values);
  }

  /** One statement per batch size: a multi-row VALUES list, every value a parameter. */
  private buildInsert(size: number) {
    const placeholder = (field: (typeof INSERT_FIELDS)[number], index: number) =>
      sql.placeholder(placeholderNames(index)[INSERT_FIELDS.indexOf(field)] as string);
    const query = this.db
      .insert(jobs)
      .values(
        Array.from({ length: size }, (_, index) => ({
          id: placeholder('id', index),
          queue: placeholder('queue', index),
          type: placeholder('type', index),
          version: placeholder('version', index),
          ownerId: placeholder('ownerId', index),
          fileId: placeholder('fileId', index),
          payload: placeholder('payload', index),
          maxAttempts: placeholder('maxAttempts', index),
          idempotencyKey: placeholder('idempotencyKey', index),
          runAt: nowPlus(sql`${placeholder('delaySeconds', index)}::double precision`),
          dispatchedAt: sql`case when ${placeholder('dispatched', index)}::boolean then ${NOW} end`,
        })),
      )
      .onConflictDoNothing()
      .returning(ENQUEUED_COLUMNS);
    return query.prepare(nameOf(query));
  }

  /** Embedded adapter: takes up to `limit` due jobs of the given types, skipping rows other workers hold. */
  claim(queue: string, types: readonly string[], limit: number, workerId: string, leaseMs: number): Promise<ClaimedRow[]> {
    // A worker loop asks for the same queue and types every time: one statement each.
    const key = JSON.stringify([queue, types]);
    let statement = this.claims.get(key);
    if (!statement) {
      statement = this.buildClaim(queue, types);
      this.claims.set(key, statement);
    }
    return statement.execute({ now: this.now(), limit, workerId, leaseSeconds: leaseMs / 1000 });
  }

  private buildClaim(queue: string, types: readonly string[]) {
    const due = this.db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.queue, queue), eq(jobs.status, 'queued'), lte(jobs.runAt, NOW), inArray(jobs.type, [...types])))
      .orderBy(jobs.runAt, jobs.createdAt)
      .limit(sql.placeholder('limit'))
      .for('update', { skipLocked: true });
    const query = this.db
      .update(jobs)
      .set({
        status: 'running',
        attempts: sql`${jobs.attempts} + 1`,
        leaseToken: sql`gen_random_uuid()`,
        lockedBy: sql`${sql.placeholder('workerId')}::text`,
        lockedUntil: nowPlus(sql`${sql.placeholder('leaseSeconds')}::double precision`),
        heartbeatAt: NOW,
        startedAt: sql`coalesce(${jobs.startedAt}, ${NOW})`,
      })
      // `= any(array(…))` runs the locking subquery once, as an init plan. Written `in (…)`, the
      // planner may make it the inner side of a nested loop (PGlite never analyzes, so it always
      // thinks the table tiny) and re-run it per row: quadratic in the backlog, and each re-run
      // skips the rows already updated, so the claim could take more rows than `limit`.
      .where(and(sql`${jobs.id} = any(array(${due}))`, eq(jobs.status, 'queued')))
      .returning(CLAIMED_COLUMNS);
    return query.prepare(nameOf(query));
  }

  /** BullMQ adapter: the attempts Redis handed out, by job id (distinct); rows cancelled meanwhile are left out. */
  start(attempts: Map<string, StartWrite>): Promise<ClaimedRow[]> {
    const starts = JSON.stringify(Object.fromEntries([...attempts].map(([id, input]) => [id, startEntry(input)])));
    return this.startStatement.execute({ now: this.now(), ids: [...attempts.keys()].join(','), starts });
  }

  private buildStart() {
    const start = sql`(${sql.placeholder('starts')}::jsonb -> ${jobs.id}::text)`;
    const query = this.db.update(jobs).set(startedColumns(start)).where(and(IDS, START_FENCE)).returning(CLAIMED_COLUMNS);
    return query.prepare(nameOf(query));
  }

  /** Successful attempts by job id (distinct), each fenced by its lease token; rows whose lease was lost are left out. */
  succeed(attempts: Map<string, SuccessWrite>): Promise<StatusRow[]> {
    const results = JSON.stringify(Object.fromEntries([...attempts].map(([id, input]) => [id, successEntry(input)])));
    return this.succeedStatement.execute({ now: this.now(), ids: [...attempts.keys()].join(','), results });
  }

  private buildSucceed() {
    const attempt = sql`(${sql.placeholder('results')}::jsonb -> ${jobs.id}::text)`;
    const query = this.db
      .update(jobs)
      // A null result is stored as SQL NULL, as a single write stores it.
      .set(succeededColumns(sql`nullif(${attempt} -> 'r', 'null'::jsonb)`, NOW, this.retentionMs))
      .where(and(IDS, successFence(attempt)))
      .returning(STATUS_COLUMNS);
    return query.prepare(nameOf(query));
  }

  /**
   * Starts and successful ends together, by job id (distinct), in one statement: with BullMQ a
   * worker's slots start and finish attempts at different moments, and the two kinds, written
   * apart, each made a statement (and a commit) per ~3 jobs. Each row's entry says which it is;
   * a start is left out when the row was cancelled meanwhile, an end when its lease was lost.
   */
  startAndSucceed(starts: Map<string, StartWrite>, successes: Map<string, SuccessWrite>): Promise<ClaimedRow[]> {
    const writes: Record<string, unknown> = {};
    for (const [id, input] of starts) writes[id] = { s: true, ...startEntry(input) };
    for (const [id, input] of successes) writes[id] = { s: false, ...successEntry(input) };
    return this.startAndSucceedStatement.execute({
      now: this.now(),
      ids: [...starts.keys(), ...successes.keys()].join(','),
      writes: JSON.stringify(writes),
    });
  }

  private buildStartAndSucceed() {
    const write = sql`(${sql.placeholder('writes')}::jsonb -> ${jobs.id}::text)`;
    const isStart = sql`(${write} ->> 's')::boolean`;
    // Each column takes the start's value or the success's; where one of them leaves a column alone, it keeps its own.
    const either = (start: SQL, success: SQL) => sql`case when ${isStart} then ${start} else ${success} end`;
    const started = startedColumns(write);
    const succeeded = succeededColumns(sql`nullif(${write} -> 'r', 'null'::jsonb)`, NOW, this.retentionMs);
    const query = this.db
      .update(jobs)
      .set({
        status: sql`case when ${isStart} then 'running' else 'succeeded' end`,
        attempts: either(started.attempts, sql`${jobs.attempts}`),
        leaseToken: either(started.leaseToken, sql`null`),
        lockedBy: either(started.lockedBy, sql`null`),
        lockedUntil: either(started.lockedUntil, sql`null`),
        heartbeatAt: either(started.heartbeatAt, sql`${jobs.heartbeatAt}`),
        startedAt: either(started.startedAt, sql`${jobs.startedAt}`),
        dispatchedAt: either(started.dispatchedAt, sql`${jobs.dispatchedAt}`),
        result: either(sql`${jobs.result}`, succeeded.result),
        error: either(sql`${jobs.error}`, sql`null`),
        finishedAt: either(sql`${jobs.finishedAt}`, succeeded.finishedAt),
        expiresAt: either(sql`${jobs.expiresAt}`, succeeded.expiresAt),
      })
      .where(and(IDS, sql`case when ${isStart} then ${START_FENCE} else ${successFence(write)} end`))
      .returning(CLAIMED_COLUMNS);
    return query.prepare(nameOf(query));
  }

  /** BullMQ adapter: rows handed to Redis. */
  async markDispatched(ids: readonly string[]): Promise<void> {
    await this.dispatchedStatement.execute({ now: this.now(), ids: ids.join(',') });
  }

  private buildDispatched() {
    const query = this.db
      .update(jobs)
      .set({ dispatchedAt: NOW })
      .where(and(IDS, isNull(jobs.dispatchedAt)));
    return query.prepare(nameOf(query));
  }
}

/** What a successful attempt writes, its lease released: `finish` alone and in batches. */
export function succeededColumns<Result>(result: Result, now: SQL, retentionMs: number) {
  return {
    status: 'succeeded' as const,
    result,
    error: null,
    finishedAt: now,
    expiresAt: sql`${now} + make_interval(secs => ${retentionMs / 1000}::double precision)`,
    leaseToken: null,
    lockedBy: null,
    lockedUntil: null,
  };
}
