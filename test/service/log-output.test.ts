import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const LOGGER = pathToFileURL(path.resolve('src/logging/logger.ts')).href;
const CONFIG = pathToFileURL(path.resolve('src/config/config.ts')).href;

/**
 * Runs `body` in a new process with a logger as the service builds it (standard output, written
 * asynchronously) and returns that process's standard output.
 */
function runLogging(body: string): { status: number | null; lines: string[] } {
  const script = `const { createLogger } = await import(${JSON.stringify(LOGGER)});
const { loadConfig } = await import(${JSON.stringify(CONFIG)});
const log = createLogger(loadConfig(), 'test');
${body}`;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, NODE_ENV: 'test', LOG_LEVEL: 'info', LOG_PRETTY: 'false' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, lines: result.stdout.split('\n').filter((line) => line !== '') };
}

describe('log output', () => {
  it('keeps every line written before the process exits at once', () => {
    const { status, lines } = runLogging(`
for (let index = 0; index < 2000; index += 1) log.info({ index, padding: 'x'.repeat(200) }, 'line');
process.exit(3);`);
    expect(status).toBe(3);
    expect(lines).toHaveLength(2000);
    expect(lines.map((line) => (JSON.parse(line) as { index: number }).index)).toEqual([...Array(2000).keys()]);
  });

  it('keeps the lines written before an uncaught error ends the process', () => {
    const { status, lines } = runLogging(`
for (let index = 0; index < 500; index += 1) log.info({ index }, 'line');
setImmediate(() => { throw new Error('boom'); });`);
    expect(status).not.toBe(0);
    expect(lines).toHaveLength(500);
  });
});
