import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { openDatabase, type Database } from '../../src/db/database.ts';
import type { App } from '../../src/http/app-types.ts';
import { testConfig } from '../helpers/config.ts';
import { makeTempDir } from '../helpers/database.ts';

describe('readiness when the database is down', () => {
  let app: App;
  let database: Database;

  beforeAll(async () => {
    // A real PostgreSQL adapter pointed at a port where nothing listens.
    database = await openDatabase({ url: 'postgres://postgres@127.0.0.1:9/test', dataDir: makeTempDir(), poolSize: 1 });
    app = await buildApp(testConfig(makeTempDir()), { database });
    await app.ready();
  });

  afterAll(async () => {
    await app.close();
    await database.close();
  });

  it('answers /ready with 503, Retry-After and the failing component, without its address or error for visitors', async () => {
    const response = await app.inject({ method: 'GET', url: '/ready' });
    expect(response.statusCode).toBe(503);
    expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
    const body = response.json();
    expect(body.status).toBe('unavailable');
    expect(body.components[0]).toMatchObject({ name: 'database', status: 'down' });
    expect(body.components[0]).not.toHaveProperty('error');
    expect(body.components[0]).not.toHaveProperty('target');
    expect(response.body).not.toContain('127.0.0.1');
  });

  it('still answers /health, which touches nothing', async () => {
    const response = await app.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
  });
});
