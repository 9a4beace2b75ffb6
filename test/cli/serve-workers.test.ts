import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, makeTempDir, type TestDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/free-port.ts';
import { isAlive, spawnCli, type LogLine } from '../helpers/cli-process.ts';

const listening = (line: LogLine) => typeof line.msg === 'string' && line.msg.includes(' listening on ');

describe('intake serve --workers N', () => {
  it('refuses more than one process on the embedded database, with one line naming the way out', async () => {
    const dataDir = makeTempDir('intake-serve-workers');
    try {
      const run = spawnCli(['serve', '--workers', '2'], { DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '' });
      expect(await run.exited).toBe(2);
      const said = run.output().trim();
      expect(said.split('\n')).toHaveLength(1);
      expect(said).toContain('need PostgreSQL (DATABASE_URL)');
      // It stopped before opening anything: no embedded database was created.
      expect(fs.readdirSync(dataDir)).toEqual([]);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses WEB_CONCURRENCY above 1 on the embedded database too', async () => {
    const dataDir = makeTempDir('intake-serve-workers');
    try {
      const run = spawnCli(['serve'], { DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', WEB_CONCURRENCY: '3' });
      expect(await run.exited).toBe(2);
      expect(run.output()).toContain('3 API processes');
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  describe.skipIf(!process.env.DATABASE_URL)('on PostgreSQL', () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await createTestDatabase();
    });
    afterAll(() => database?.close());

    it('runs N API processes on one port, replaces one that dies, and stops them all on SIGTERM', async () => {
      const port = await freePort();
      const origin = `http://127.0.0.1:${port}`;
      const run = spawnCli(['serve', '--workers', '2'], {
        DATABASE_URL: database.url,
        REDIS_URL: '',
        DATA_DIR: database.dataDir,
        DATA_DIR_SHARED: 'true',
        PORT: String(port),
        JOBS_WORKERS_IN_SERVE: 'false',
      });
      try {
        const listeningPids = async (count: number): Promise<number[]> => {
          await run.waitForLine(
            () => new Set(run.lines.filter(listening).map((line) => line.pid)).size >= count,
            `${count} API processes listening`,
          );
          return [...new Set(run.lines.filter(listening).map((line) => Number(line.pid)))];
        };
        const first = await listeningPids(2);
        const primary = run.child.pid;
        expect(first).not.toContain(primary);
        for (let request = 0; request < 6; request += 1) expect((await fetch(`${origin}/health`)).status).toBe(200);

        const victim = first[0]!;
        process.kill(victim, 'SIGKILL');
        const replaced = await run.waitForLine(
          (line) => line.msg === 'API process exited unexpectedly; starting a replacement',
          'the replacement notice',
        );
        expect(replaced).toMatchObject({ pid: primary, child_pid: victim, signal: 'SIGKILL' });
        expect(replaced.restart_in_ms).toEqual(expect.any(Number));
        const all = await listeningPids(3);
        const replacement = all.find((pid) => !first.includes(pid));
        expect(replacement).toBeDefined();
        expect(isAlive(replacement!)).toBe(true);
        for (let request = 0; request < 6; request += 1) expect((await fetch(`${origin}/health`)).status).toBe(200);

        run.signal('SIGTERM');
        expect(await run.exited).toBe(0);
        for (const pid of all) expect(isAlive(pid)).toBe(false);
        expect(run.lines.filter((line) => line.msg === 'shut down cleanly').map((line) => line.pid)).toEqual(
          expect.arrayContaining([first[1], replacement]),
        );
        expect(run.lines.some((line) => line.msg === 'every API process stopped')).toBe(true);
      } finally {
        run.signal('SIGKILL');
      }
    }, 120_000);
  });
});
