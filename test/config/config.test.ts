import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';

describe('configuration', () => {
  it('defaults to the embedded mode on 127.0.0.1:8000 with data under ./data', () => {
    const config = loadConfig({});
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(8000);
    expect(config.dataDir).toBe(path.resolve('data'));
    expect(config.database.url).toBeUndefined();
    expect(config.database.migrateOnBoot).toBe(true);
    expect(config.publicUrl).toBe('http://127.0.0.1:8000');
    expect(config.http.corsOrigins).toEqual([]);
  });

  it('bounds WebSocket connections by default and reads the WS_* limits', () => {
    expect(loadConfig({}).realtime).toEqual({
      heartbeatMs: 30_000,
      authTimeoutMs: 10_000,
      maxMessageBytes: 4096,
      rateLimitMessages: 60,
      rateLimitWindowMs: 10_000,
      maxBufferedBytes: 1024 * 1024,
      maxSubscriptions: 100,
    });
    expect(loadConfig({ WS_MAX_BUFFERED_BYTES: '65536', WS_HEARTBEAT_MS: '5000' }).realtime).toMatchObject({
      maxBufferedBytes: 65536,
      heartbeatMs: 5000,
    });
    // A frame must hold an access token.
    expect(() => loadConfig({ WS_MAX_MESSAGE_BYTES: '100' })).toThrow(/WS_MAX_MESSAGE_BYTES must be a whole number between 1024/);
  });

  it('is frozen, so nothing can change it after boot', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.http)).toBe(true);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '' }).port).toBe(8000);
  });

  it.each([
    ['PORT', 'eighty', /PORT must be a whole number between 0 and 65535 \(got "eighty"\)/],
    ['PORT', '70000', /PORT must be a whole number/],
    ['NODE_ENV', 'staging', /NODE_ENV must be one of development, test, production/],
    ['MIGRATE_ON_BOOT', 'maybe', /MIGRATE_ON_BOOT must be true or false/],
    ['DATABASE_URL', 'mysql://x@y/z', /DATABASE_URL must be a URL starting with postgres: or postgresql:/],
    ['CORS_ORIGINS', 'not a url', /CORS_ORIGINS must be a comma-separated list of origins/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL must be one of/],
  ])('refuses %s=%s with one line naming the variable and what it expects', (name, value, message) => {
    let thrown: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const text = (thrown as Error).message;
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
  });

  it('never repeats a database password in its error', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://user:hunter2@db/app' })).toThrow(/\*\*\*/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://user:hunter2@db/app' })).not.toThrow(/hunter2/);
  });

  it('reads PostgreSQL, CORS origins and the public URL from the environment', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      CORS_ORIGINS: 'https://app.example.com/, http://localhost:5173',
      PUBLIC_URL: 'https://intake.example.com/',
    });
    expect(config.database.url).toBe('postgres://postgres@127.0.0.1:5432/test');
    expect(config.http.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(config.publicUrl).toBe('https://intake.example.com');
  });
});
