import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_SCHEMA_PATH, consoleSchemaFrom } from '../../scripts/console-api.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';

describe('the console client generated from /openapi.json', () => {
  let subject: TestApp;
  beforeAll(async () => {
    subject = await createTestApp({ env: { PUBLIC_URL: 'http://127.0.0.1:8000' } });
  });
  afterAll(async () => {
    await subject?.close();
  });

  it('is committed as generated from the current document (CI fails when it is stale)', async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const generated = await consoleSchemaFrom(response.body);
    const committed = await readFile(CONSOLE_SCHEMA_PATH, 'utf8');
    expect(generated === committed, 'console/src/api/schema.d.ts is stale: run `npm run console:api` and commit it').toBe(true);
  });
});
