import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startCliServer, type CliServer } from '../helpers/cli-server.ts';

/**
 * The README's commands run as written: its curl walk-through is taken from README.md itself
 * and run by bash against a real `intake serve`, with only the address replaced.
 */
const README = fs.readFileSync('README.md', 'utf8');
const DOCUMENTED_ORIGIN = 'http://127.0.0.1:8000';

/** The first ```sh block after `marker`. */
function shellBlockAfter(text: string, marker: string): string {
  const start = text.indexOf(marker);
  expect(start, `README lacks "${marker}"`).toBeGreaterThanOrEqual(0);
  const block = /```sh\n([\s\S]*?)```/.exec(text.slice(start));
  if (!block?.[1]) throw new Error(`no sh block after "${marker}"`);
  return block[1];
}

function documentationFiles(): string[] {
  return [
    'README.md',
    ...fs
      .readdirSync('docs')
      .filter((name) => name.endsWith('.md'))
      .map((name) => path.join('docs', name)),
  ];
}

describe('the README walk-through', () => {
  let subject: TestDatabase;
  let server: CliServer;
  let workDir: string;

  beforeAll(async () => {
    subject = await createTestDatabase();
    await subject.database.close();
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-readme-'));
    server = await startCliServer({
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      DATA_DIR: subject.dataDir,
      ...(subject.url ? { DATABASE_URL: subject.url } : {}),
    });
  });
  afterAll(async () => {
    await server?.stop();
    await subject?.close();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  /** Runs a README block in bash (stopping at the first failing command) from a scratch directory. */
  function run(block: string) {
    const script = `set -eu\n${block.replaceAll(DOCUMENTED_ORIGIN, server.origin)}`;
    const result = spawnSync('bash', ['-c', script], {
      cwd: workDir,
      env: { PATH: process.env.PATH, HOME: workDir },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    return result.stdout;
  }

  it('registers, uploads people.csv, follows its job to the end and reads the records back', () => {
    const output = run(shellBlockAfter(README, 'A first walk through the API with curl'));
    expect(output).toContain('"email":"ada@example.com"');
    expect(output).toMatch(/"status":"uploaded".*"job_id":"[0-9a-f-]{36}"/);
    expect(output).toMatch(/event: job\.status\ndata: \{[^\n]*"status":"succeeded"/);
    expect(output).toContain(
      '{"items":[{"row":1,"data":{"name":"Ada","country":"GB"}},{"row":2,"data":{"name":"Grace","country":"US"}}]',
    );
    // The filter line: only the GB row.
    expect(output).toContain('{"items":[{"row":1,"data":{"name":"Ada","country":"GB"}}],"next_cursor":null}');
    const exported = fs.readFileSync(path.join(workDir, 'people-export.csv'), 'utf8');
    expect(exported).toContain('Ada');
    expect(exported).toContain('Grace');
  });

  it('answers the health, readiness and OpenAPI commands', () => {
    const block = [...README.matchAll(/```sh\n([\s\S]*?)```/g)]
      .map((match) => match[1] ?? '')
      .find((text) => text.startsWith('curl -s http://127.0.0.1:8000/health'));
    if (!block) throw new Error('README lacks the sh block that starts with the /health command');
    const output = run(block);
    expect(output).toContain('{"status":"ok"}');
    expect(output).toContain('"openapi"');
  });
});

describe('curl commands in the README and docs/', () => {
  it('turn off curl’s URL globbing (-g) wherever a URL holds brackets', () => {
    const offenders: string[] = [];
    for (const file of documentationFiles()) {
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        if (!/\bcurl\s/.test(line) || !/https?:\/\/[^\s"']*\[|\$API[^\s"']*\[/.test(line)) continue;
        if (!/\scurl\s+(?:-\w*g\w*\s|.*--globoff)|^curl\s+(?:-\w*g\w*\s|.*--globoff)/.test(line))
          offenders.push(`${file}: ${line}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
