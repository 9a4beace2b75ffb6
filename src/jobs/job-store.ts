import { randomUUID } from 'node:crypto';
import { and, eq, inArray, isNotNull, isNull, lt, sql, type SQL } from 'drizzle-orm';
import type { PgInsertValue } from 'drizzle-orm/pg-core';
import type { Db } from '../db/database.ts';
import { jobs, type JobProgress, type JobRow, type JobStatus } from './jobs.schema.ts';
import { payloadProblem, type HandlerEvent, type JobDefinition } from './job-definition.ts';
import { jobError, type JobError } from './job-error.ts';
import type { Static, TSchema } from '../vendor/typebox.ts';
import { Coalescer } from './coalescer.ts';
import {
  JobStatements,
  succeededColumns,
  type ClaimedRow,
  type EnqueuedRow,
  type InsertRow,
  type StartWrite,
  type StatusRow,
  SUBJECT_COLUMNS,
  type SubjectRow,
  type SuccessWrite,
} from './job-statements.ts';
import type { EnqueueOptions, JobEventSink, JobEventSubject, JobLogger, JobOutcomeListener } from './job-queue.ts';

const FINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'timed_out', 'cancelled'];

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

export interface InsertJobInput {
  definition: JobDefinition;
  payload: unknown;
  ownerId: string | null;
  fileId: string | null;
  idempotencyKey: string | null;
  delayMs: number;
  /** Embedded: the row is the dispatch. BullMQ: false until the job is handed to Redis. */
  dispatched: boolean;
}

/** A successful attempt's end, as `finish` batches it. */
interface SuccessInput extends SuccessWrite {
  kind: 'succeed';
  id: string;
}

/** A BullMQ attempt's start, as `start` batches it. */
interface StartInput extends StartWrite {
  kind: 'start';
  id: string;
}

/** A start answers the row to run (ClaimedRow), a success the columns of its status event. */
function isClaimed(row: ClaimedRow | StatusRow): row is ClaimedRow {
  return 'payload' in row;
}

/**
 * Runs a batch keyed by job id in rounds of distinct ids (a batch statement addresses each row
 * once, and its answer is matched back by id); one output per input, in order.
 */
async function byDistinctIds<Input extends { id: string }, Output>(
  inputs: Input[],
  run: (batch: Input[]) => Promise<Output[]>,
): Promise<Output[]> {
  const outputs: Output[] = new Array<Output>(inputs.length);
  let remaining = inputs.map((input, index) => ({ input, index }));
  while (remaining.length > 0) {
    const seen = new Set<string>();
    const round: typeof remaining = [];
    const later: typeof remaining = [];
    for (const entry of remaining) {
      if (seen.has(entry.input.id)) later.push(entry);
      else {
        seen.add(entry.input.id);
        round.push(entry);
      }
    }
    const answers = await run(round.map((entry) => entry.input));
    round.forEach((entry, position) => {
      outputs[entry.index] = answers[position] as Output;
    });
    remaining = later;
  }
  return outputs;
}

/** The returned row of each id, in the order of `ids` (undefined where the statement left it out). */
function rowsInOrder<Row extends { id: string }>(ids: readonly string[], rows: readonly Row[]): (Row | undefined)[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id));
}

/** How an attempt ended, as the row records it. */
export type AttemptRecord =
  | { status: 'succeeded'; result: unknown }
  | { status: 'failed' | 'timed_out' | 'cancelled'; error: JobError }
  | { status: 'retry'; error: JobError; delayMs: number }
  | { status: 'released' };

/** The columns an enqueue writes as given, for the batched statement and the single insert alike. */
function insertedFields(input: InsertJobInput, id: string): Omit<InsertRow, 'delaySeconds' | 'dispatched'> {
  return {
    id,
    queue: input.definition.queue,
    type: input.definition.name,
    version: input.definition.version,
    ownerId: input.ownerId,
    fileId: input.fileId,
    payload: input.payload,
    maxAttempts: input.definition.retry.maxAttempts,
    idempotencyKey: input.idempotencyKey,
  };
}

function subjectOf(row: SubjectRow): JobEventSubject {
  return { id: row.id, type: row.type, queue: row.queue, attempt: row.attempts, ownerId: row.ownerId, fileId: row.fileId };
}

/**
 * Data access to the jobs table shared by both queue adapters. Every write made on behalf of
 * an attempt is fenced by its lease token: an attempt that lost its lease (its worker was
 * presumed dead and the job re-run elsewhere) can no longer change the row.
 */
export interface JobStoreOptions {
  /** How long a finished job is kept before the sweep deletes it. */
  retentionMs: number;
  /**
   * The time leases, run times and retention are computed from. Unset: the database's `now()`,
   * one clock for every worker. A test passes its own to move past a lease without waiting.
   */
  clock?: () => Date;
  /** Told about each write below that changes a job's progress or status (the one realtime hook). */
  onEvent?: JobEventSink;
  /** Where a failing `onEvent` is reported. */
  log: JobLogger;
}

export class JobStore {
  private readonly retentionMs: number;
  private readonly onEvent: JobEventSink | undefined;
  private readonly log: JobLogger;
  private readonly clock: (() => Date) | undefined;
  private readonly inserts = new Coalescer((inputs: InsertJobInput[]) => this.insertBatch(inputs));
  // Starts and successful ends share one coalescer and, when both are waiting, one statement.
  private readonly attemptWrites = new Coalescer((inputs: (StartInput | SuccessInput)[]) =>
    byDistinctIds(inputs, (batch) => this.writeAttempts(batch)),
  );
  private readonly statements: JobStatements;

  constructor(
    readonly db: Db,
    options: JobStoreOptions,
  ) {
    this.retentionMs = options.retentionMs;
    this.onEvent = options.onEvent;
    this.log = options.log;
    this.clock = options.clock;
    this.statements = new JobStatements(db, options.retentionMs, options.clock);
  }

  private now(): SQL {
    return this.clock ? sql`${this.clock().toISOString()}::timestamptz` : sql`now()`;
  }

  private after(ms: number): SQL {
    return sql`${this.now()} + make_interval(secs => ${ms / 1000}::double precision)`;
  }

  private statusChanged(rows: readonly StatusRow[]): void {
    if (!this.onEvent) return;
    for (const row of rows)
      this.emitSafely({ kind: 'status', job: subjectOf(row), status: row.status, error: row.error ?? null });
  }

  private emitSafely(event: Parameters<JobEventSink>[0]): void {
    try {
      this.onEvent?.(event);
    } catch (error) {
      // Fan-out is best effort; the row is already written and stays the record.
      this.log.warn(
        { err: error, job_id: event.job.id, event: event.kind },
        'job event listener failed; the job row stays the record',
      );
    }
  }

  /** A handler's own event (relayed from its thread), about the job it runs. */
  handlerEvent(job: JobEventSubject, event: HandlerEvent): void {
    this.emitSafely({ kind: 'handler', job, event });
  }

  /** BullMQ adapter: a stall recovered after a new attempt already took the row (`requeueStalled` wrote nothing). */
  async stalledTakenOver(id: string): Promise<void> {
    const row = await this.get(id);
    if (row) this.emitSafely({ kind: 'stalled', job: subjectOf(row) });
  }

  /** `insert` from what a caller of `JobQueue.enqueue` passes; `dispatched` is the adapter's business. */
  enqueue<Payload extends TSchema, Result>(
    definition: JobDefinition<Payload, Result>,
    payload: Static<Payload>,
    options: EnqueueOptions,
    dispatched: boolean,
  ): Promise<{ row: EnqueuedRow; created: boolean }> {
    return this.insert(
      {
        definition,
        payload,
        ownerId: options.ownerId ?? null,
        fileId: options.fileId ?? null,
        idempotencyKey: options.idempotencyKey ?? null,
        delayMs: options.delayMs ?? 0,
        dispatched,
      },
      options.tx,
    );
  }

  /**
   * Inserts the job, or returns the existing one with the same idempotency key. Outside a
   * caller's transaction, concurrent inserts share one multi-row statement.
   */
  async insert(input: InsertJobInput, tx?: Db): Promise<{ row: EnqueuedRow; created: boolean }> {
    const problem = payloadProblem(input.definition, input.payload);
    // A caller's bug, not a user's: the payload is built by code from already-validated input.
    if (problem !== undefined) throw new TypeError(`invalid payload for job ${input.definition.name}: ${problem}`);
    if (tx === undefined || tx === this.db) {
      const row = await this.inserts.submit(input);
      // Same key as an earlier job, or as an earlier input of the same batch (inserted by it).
      return row ? { row, created: true } : { row: await this.existing(this.db, input), created: false };
    }
    const [inserted] = await tx.insert(jobs).values(this.rowOf(input, randomUUID())).onConflictDoNothing().returning();
    if (inserted) return { row: inserted, created: true };
    return { row: await this.existing(tx, input), created: false };
  }

  /** One multi-row INSERT; each input gets its new row, or undefined when its idempotency key was taken. */
  private async insertBatch(inputs: InsertJobInput[]): Promise<(EnqueuedRow | undefined)[]> {
    // Ids chosen here tell which inputs the statement inserted (a conflict returns no row).
    const rows: InsertRow[] = inputs.map((input) => ({
      ...insertedFields(input, randomUUID()),
      delaySeconds: Math.max(0, input.delayMs) / 1000,
      dispatched: input.dispatched,
    }));
    const inserted = await this.statements.insert(rows);
    return rowsInOrder(
      rows.map((row) => row.id),
      inserted,
    );
  }

  private rowOf(input: InsertJobInput, id: string): PgInsertValue<typeof jobs> {
    return {
      ...insertedFields(input, id),
      runAt: input.delayMs > 0 ? this.after(input.delayMs) : this.now(),
      dispatchedAt: input.dispatched ? this.now() : null,
    };
  }

  private async existing(tx: Db, input: InsertJobInput): Promise<JobRow> {
    if (input.idempotencyKey === null) throw new Error('job insert conflicted without an idempotency key');
    const [existing] = await tx
      .select()
      .from(jobs)
      .where(
        and(
          eq(jobs.type, input.definition.name),
          sql`coalesce(${jobs.ownerId}, ${NIL_UUID}::uuid) = coalesce(${input.ownerId}::uuid, ${NIL_UUID}::uuid)`,
          eq(jobs.idempotencyKey, input.idempotencyKey),
        ),
      );
    if (!existing) throw new Error('idempotent job vanished between insert and select');
    return existing;
  }

  async get(id: string): Promise<JobRow | undefined> {
    const [row] = await this.db.select().from(jobs).where(eq(jobs.id, id));
    return row;
  }

  /** Embedded adapter: takes up to `limit` due jobs of the given types, skipping rows other workers hold. */
  async claim(queue: string, types: readonly string[], limit: number, workerId: string, leaseMs: number): Promise<ClaimedRow[]> {
    if (limit <= 0 || types.length === 0) return [];
    const rows = await this.statements.claim(queue, types, limit, workerId, leaseMs);
    this.statusChanged(rows);
    return rows;
  }

  /**
   * BullMQ adapter: Redis handed us the job; record the attempt. Nothing comes back when the
   * job was cancelled (or deleted) meanwhile, and the attempt must not run.
   */
  async start(
    id: string,
    attempt: number,
    leaseToken: string,
    workerId: string,
    leaseMs: number,
  ): Promise<ClaimedRow | undefined> {
    // Concurrent starts (a worker's slots filling at once) and ends share one statement.
    const row = await this.attemptWrites.submit({ kind: 'start', id, attempt, leaseToken, workerId, leaseMs });
    if (!row) return undefined;
    if (!isClaimed(row)) throw new Error(`the start of job ${id} was answered without the row to run`);
    this.statusChanged([row]);
    return row;
  }

  /** Distinct ids: starts, successes, or both kinds in one statement; each input gets its row, or undefined when it was not written. */
  private async writeAttempts(batch: (StartInput | SuccessInput)[]): Promise<(ClaimedRow | StatusRow | undefined)[]> {
    const starts = new Map<string, StartInput>();
    const successes = new Map<string, SuccessInput>();
    for (const input of batch) {
      if (input.kind === 'start') starts.set(input.id, input);
      else successes.set(input.id, input);
    }
    const rows: readonly (ClaimedRow | StatusRow)[] =
      starts.size === 0
        ? await this.statements.succeed(successes)
        : successes.size === 0
          ? await this.statements.start(starts)
          : await this.statements.startAndSucceed(starts, successes);
    return rowsInOrder(
      batch.map((input) => input.id),
      rows,
    );
  }

  /** Extends the leases of our running attempts; answers which ones are still ours and which must stop. */
  async heartbeat(leaseTokens: readonly string[], leaseMs: number): Promise<{ held: Set<string>; cancelRequested: Set<string> }> {
    const held = new Set<string>();
    const cancelRequested = new Set<string>();
    if (leaseTokens.length === 0) return { held, cancelRequested };
    const rows = await this.db
      .update(jobs)
      .set({ lockedUntil: this.after(leaseMs), heartbeatAt: this.now() })
      .where(and(inArray(jobs.leaseToken, [...leaseTokens]), eq(jobs.status, 'running')))
      .returning({ leaseToken: jobs.leaseToken, cancelRequestedAt: jobs.cancelRequestedAt });
    for (const row of rows) {
      if (!row.leaseToken) continue;
      held.add(row.leaseToken);
      if (row.cancelRequestedAt) cancelRequested.add(row.leaseToken);
    }
    return { held, cancelRequested };
  }

  async progress(id: string, leaseToken: string, progress: JobProgress): Promise<void> {
    const rows = await this.db
      .update(jobs)
      .set({ progress })
      .where(and(eq(jobs.id, id), eq(jobs.leaseToken, leaseToken), eq(jobs.status, 'running')))
      .returning(SUBJECT_COLUMNS);
    // Only a write that landed is announced: a lost lease's progress is not news.
    for (const row of rows) this.emitSafely({ kind: 'progress', job: subjectOf(row), progress });
  }

  /**
   * Records the end of an attempt. False when the lease was lost and the write dropped. A final
   * outcome is written in one transaction with whatever `onFinished` records.
   */
  async finish(
    id: string,
    leaseToken: string,
    record: AttemptRecord,
    onFinished?: OutcomeHook,
    /** What the job was enqueued with, for the hook's `wants`: without it, a final outcome always tells the hook. */
    job?: Pick<JobRow, 'queue' | 'type' | 'ownerId' | 'fileId'>,
  ): Promise<boolean> {
    if (onFinished && job && onFinished.listener.wants && !onFinished.listener.wants(job, record.status as JobStatus))
      onFinished = undefined;
    const releaseLease = { leaseToken: null, lockedBy: null, lockedUntil: null };
    let values: Partial<Record<keyof JobRow, unknown>>;
    switch (record.status) {
      case 'succeeded':
        values = succeededColumns(record.result ?? null, this.now(), this.retentionMs);
        break;
      case 'retry':
        values = { status: 'queued', error: record.error, runAt: this.after(record.delayMs) };
        break;
      case 'released':
        // A shutdown is not the job's fault: the attempt is given back.
        values = { status: 'queued', attempts: sql`greatest(${jobs.attempts} - 1, 0)`, runAt: this.now() };
        break;
      default:
        values = { status: record.status, error: record.error, finishedAt: this.now(), expiresAt: this.after(this.retentionMs) };
    }
    const write = (db: Db) =>
      db
        .update(jobs)
        .set({ ...releaseLease, ...values } as Partial<typeof jobs.$inferInsert>)
        .where(and(eq(jobs.id, id), eq(jobs.leaseToken, leaseToken), eq(jobs.status, 'running')))
        .returning();
    let rows: StatusRow[];
    if (record.status === 'succeeded' && !onFinished) {
      // The common end needs no transaction: concurrent successes share one statement.
      const row = await this.attemptWrites.submit({ kind: 'succeed', id, leaseToken, result: record.result ?? null });
      rows = row ? [row] : [];
    } else if (!onFinished || !FINAL_STATUSES.includes(record.status as JobStatus)) {
      rows = await write(this.db);
    } else {
      rows = await this.db.transaction(async (tx) => {
        const written = await write(tx);
        for (const row of written) await notifyOutcome(tx, row, onFinished);
        return written;
      });
    }
    // Announced once committed: a listener never hears of a status that was rolled back.
    this.statusChanged(rows);
    return rows.length > 0;
  }

  /**
   * Embedded adapter: running jobs whose lease ran out belong to a worker that died or hung.
   * They go back to the queue (late acknowledgement), or end when no attempt is left.
   */
  async recoverStalled(onFinished?: OutcomeHook): Promise<number> {
    if (onFinished) return this.db.transaction((tx) => this.recoverStalledIn(tx, onFinished));
    return this.recoverStalledIn(this.db);
  }

  private async recoverStalledIn(db: Db, onFinished?: OutcomeHook): Promise<number> {
    const rows = await db
      .update(jobs)
      .set({
        status: sql`case when ${jobs.cancelRequestedAt} is not null then 'cancelled'
                         when ${jobs.attempts} >= ${jobs.maxAttempts} then 'failed'
                         else 'queued' end`,
        error: sql`${JSON.stringify(jobError('stalled', 'The worker running this job stopped responding.'))}::jsonb`,
        leaseToken: null,
        lockedBy: null,
        lockedUntil: null,
        runAt: this.now(),
        finishedAt: sql`case when ${jobs.cancelRequestedAt} is not null or ${jobs.attempts} >= ${jobs.maxAttempts} then ${this.now()} end`,
        expiresAt: sql`case when ${jobs.cancelRequestedAt} is not null or ${jobs.attempts} >= ${jobs.maxAttempts} then ${this.after(this.retentionMs)} end`,
      })
      .where(and(eq(jobs.status, 'running'), lt(jobs.lockedUntil, this.now())))
      .returning();
    if (onFinished) {
      for (const row of rows) if (FINAL_STATUSES.includes(row.status)) await notifyOutcome(db, row, onFinished);
    }
    this.statusChanged(rows);
    return rows.length;
  }

  /**
   * BullMQ adapter: Redis found the job's lock expired and put it back in the wait list. The row
   * follows (queued, `stalled` error, lease dropped, so the lost attempt can no longer write),
   * unless a new attempt has already started it (its lease is current). True when written.
   */
  async requeueStalled(id: string): Promise<boolean> {
    const rows = await this.db
      .update(jobs)
      .set({
        status: 'queued',
        error: jobError('stalled', 'The worker running this job stopped responding.'),
        leaseToken: null,
        lockedBy: null,
        lockedUntil: null,
      })
      .where(and(eq(jobs.id, id), eq(jobs.status, 'running'), lt(jobs.lockedUntil, this.now())))
      .returning();
    this.statusChanged(rows);
    return rows.length > 0;
  }

  /** BullMQ adapter: Redis gave up on a job after too many stalls; the row must not stay `running`. */
  async failStalled(id: string, onFinished?: OutcomeHook): Promise<void> {
    const write = (db: Db) =>
      db
        .update(jobs)
        .set({
          status: 'failed',
          error: jobError('stalled', 'The worker running this job stopped responding too many times.'),
          leaseToken: null,
          lockedBy: null,
          lockedUntil: null,
          finishedAt: this.now(),
          expiresAt: this.after(this.retentionMs),
        })
        .where(and(eq(jobs.id, id), inArray(jobs.status, ['queued', 'running'])))
        .returning();
    const rows = onFinished
      ? await this.db.transaction(async (tx) => {
          const written = await write(tx);
          for (const row of written) await notifyOutcome(tx, row, onFinished);
          return written;
        })
      : await write(this.db);
    this.statusChanged(rows);
  }

  /** Cancels a job that has not started. Undefined when it is not (or no longer) queued. */
  async cancelQueued(id: string): Promise<JobRow | undefined> {
    const [row] = await this.db
      .update(jobs)
      .set({
        status: 'cancelled',
        cancelRequestedAt: this.now(),
        error: jobError('cancelled', 'Cancelled before it started.'),
        finishedAt: this.now(),
        expiresAt: this.after(this.retentionMs),
      })
      .where(and(eq(jobs.id, id), eq(jobs.status, 'queued')))
      .returning();
    if (row) this.statusChanged([row]);
    return row;
  }

  /** Flags a running job; its worker sees the flag at its next heartbeat and aborts the task. */
  async requestCancel(id: string): Promise<JobRow | undefined> {
    const [row] = await this.db
      .update(jobs)
      .set({ cancelRequestedAt: sql`coalesce(${jobs.cancelRequestedAt}, ${this.now()})` })
      .where(and(eq(jobs.id, id), eq(jobs.status, 'running')))
      .returning();
    return row;
  }

  /** Deletes finished jobs past their retention. */
  async sweep(): Promise<number> {
    const rows = await this.db
      .delete(jobs)
      .where(and(isNotNull(jobs.expiresAt), lt(jobs.expiresAt, this.now())))
      .returning({ id: jobs.id });
    return rows.length;
  }

  /** BullMQ adapter: rows not yet handed to Redis (enqueued inside a transaction, or a crash in between). */
  async undispatched(limit: number): Promise<JobRow[]> {
    return this.db
      .select()
      .from(jobs)
      .where(and(eq(jobs.status, 'queued'), isNull(jobs.dispatchedAt)))
      .orderBy(jobs.createdAt)
      .limit(limit);
  }

  /** Called once per batch handed to Redis (BullMQ's dispatcher batches concurrent enqueues). */
  async markDispatched(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.statements.markDispatched(ids);
  }

  async countByQueueAndStatus(): Promise<{ queue: string; status: JobStatus; count: number }[]> {
    return this.db
      .select({ queue: jobs.queue, status: jobs.status, count: sql<number>`count(*)::int` })
      .from(jobs)
      .groupBy(jobs.queue, jobs.status);
  }
}

/** The outcome listener and where its failures are reported. */
export interface OutcomeHook {
  listener: JobOutcomeListener;
  log: JobLogger;
}

/** Runs the listener in a savepoint: its failure is logged and undone, the outcome still commits. */
async function notifyOutcome(tx: Db, row: JobRow, hook: OutcomeHook): Promise<void> {
  try {
    await tx.transaction((savepoint) => hook.listener(row, savepoint));
  } catch (error) {
    hook.log.error(
      { err: error, job_id: row.id, type: row.type, status: row.status },
      'job outcome listener failed; outcome recorded without it',
    );
  }
}
