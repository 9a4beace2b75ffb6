import type { TSchema } from '../vendor/typebox.ts';
import type { Db } from '../db/database.ts';
import { payloadProblem, type JobDefinition, type JobHandler } from './job-definition.ts';

export interface RegisteredJob {
  readonly definition: JobDefinition;
  readonly handler: JobHandler;
  /** Checks a stored payload before the handler sees it; returns the first problem, if any. */
  validate(payload: unknown): string | undefined;
}

/**
 * Handlers by job name, for one worker. The composition root fills it from each feature's
 * `register…Jobs(registry, deps)`; the API side needs only the definitions.
 */
export class JobRegistry {
  private readonly jobs = new Map<string, RegisteredJob>();

  register<Payload extends TSchema, Result>(
    definition: JobDefinition<Payload, Result>,
    handler: JobHandler<Payload, Result>,
  ): this {
    if (this.jobs.has(definition.name)) throw new Error(`job type ${definition.name} is registered twice`);
    this.jobs.set(definition.name, {
      definition: definition as JobDefinition,
      handler: handler as JobHandler,
      // Checked again when the job runs: a stored payload may predate a schema change.
      validate: (payload) => payloadProblem(definition as JobDefinition, payload),
    });
    return this;
  }

  get(name: string): RegisteredJob | undefined {
    return this.jobs.get(name);
  }

  names(): string[] {
    return [...this.jobs.keys()];
  }

  /** The queues at least one registered job type is routed to. */
  queues(): string[] {
    return [...new Set([...this.jobs.values()].map((job) => job.definition.queue))];
  }

  typesFor(queue: string): string[] {
    return [...this.jobs.values()].filter((job) => job.definition.queue === queue).map((job) => job.definition.name);
  }
}

/**
 * What a worker thread calls to build its handlers: `db` reaches the main thread's database,
 * `settings` is the plain data the composition root chose to send (it crosses by copy).
 */
export type JobRegistryFactory<Settings = unknown> = (db: Db, settings: Settings) => JobRegistry;
