import { jobs } from '../jobs/jobs.schema.ts';

export * from '../jobs/jobs.schema.ts';

/**
 * The whole database schema, gathered from each domain's own `*.schema.ts` so that Drizzle
 * (queries and drizzle-kit migrations) sees one definition shared by PGlite and PostgreSQL.
 */
export const schema = { jobs };

export type Schema = typeof schema;
