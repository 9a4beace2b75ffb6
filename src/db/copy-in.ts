import type pg from 'pg';

/**
 * `COPY … FROM STDIN` on PostgreSQL: rows reach the server as one stream of text, without a
 * statement to parse or parameters to bind. Its connections are its own (a worker thread's
 * queries otherwise travel to the main thread's pool), opened on first use, closed when idle
 * and never holding the process open.
 */
export interface CopyIn {
  /**
   * Runs `statement` (a constant `COPY … FROM STDIN`) with `text` as its input; one transaction,
   * which runs `first` before the COPY when given.
   */
  copy(statement: string, text: string, first?: { text: string; values: unknown[] }): Promise<void>;
  close(): Promise<void>;
}

export function openCopyIn(url: string, connections: number): CopyIn {
  let pool: pg.Pool | undefined;
  // node-postgres and pg-copy-streams are loaded at the first COPY (a worker that ingests).
  const modules = async () => {
    const [{ default: pgModule }, { from: copyFrom }] = await Promise.all([import('pg'), import('pg-copy-streams')]);
    return { pgModule, copyFrom };
  };
  let loaded: ReturnType<typeof modules> | undefined;
  const open = async () => {
    const { pgModule, copyFrom } = await (loaded ??= modules());
    if (pool) return { pool, copyFrom };
    pool = new pgModule.Pool({
      connectionString: url,
      max: connections,
      idleTimeoutMillis: 2_000,
      allowExitOnIdle: true,
      application_name: 'intake-copy',
    });
    // An idle connection that loses its server emits on the pool; unhandled, that kills the thread.
    pool.on('error', () => undefined);
    return { pool, copyFrom };
  };
  return {
    async copy(statement, text, first) {
      const { pool: opened, copyFrom } = await open();
      const client = await opened.connect();
      let failure: Error | undefined;
      try {
        if (first) {
          await client.query('begin');
          await client.query(first.text, first.values);
        }
        const stream = client.query(copyFrom(statement));
        await new Promise<void>((resolve, reject) => {
          stream.once('error', reject);
          stream.once('finish', resolve);
          stream.end(text);
        });
        if (first) await client.query('commit');
      } catch (error) {
        failure = error instanceof Error ? error : new Error(String(error));
        throw error;
      } finally {
        // A connection whose COPY failed is not trusted with the next one (nor is its transaction
        // left open: the connection is closed, which rolls it back).
        client.release(failure);
      }
    },
    async close() {
      const current = pool;
      pool = undefined;
      await current?.end();
    },
  };
}

/**
 * One field of COPY's text format. JSON text has no raw control characters (JSON.stringify
 * escapes them), so its backslashes are the only characters COPY would read as escapes.
 */
export function copyTextField(text: string): string {
  return text.includes('\\') ? text.replaceAll('\\', '\\\\') : text;
}
