import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openConfiguredDatabase } from '../../src/composition/infrastructure.ts';
import { loadConfig } from '../../src/config/config.ts';
import { PasswordHasher } from '../../src/auth/password-hasher.ts';
import { UserService } from '../../src/users/user.service.ts';
import { authSessions } from '../../src/auth/auth.schema.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

const BIN = path.resolve('bin/intake.js');
let subject: TestDatabase | undefined;
afterAll(async () => subject?.close().catch(() => undefined));

/** `intake reset-password`: the way back into an account on a server without SMTP. */
describe('intake reset-password', () => {
  it('sets the password read from stdin and ends every session of the account', async () => {
    subject = await createTestDatabase();
    await subject.database.close();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      DATA_DIR: subject.dataDir,
      ...(subject.url ? { DATABASE_URL: subject.url, DATA_DIR_SHARED: 'true' } : {}),
    };
    const config = loadConfig({ ...env, LOG_LEVEL: 'silent' });
    const passwords = new PasswordHasher();
    let database = await openConfiguredDatabase(config);
    const user = await new UserService(database.db).create({
      email: 'locked-out@example.test',
      passwordHash: await passwords.hash('the forgotten one'),
      fullName: null,
    });
    await database.db
      .insert(authSessions)
      .values({ id: crypto.randomUUID(), userId: user.id, expiresAt: new Date(Date.now() + 3600_000) });
    await database.close();

    const missing = spawnSync(process.execPath, [BIN, 'reset-password', '--email', 'nobody@example.test'], {
      env,
      input: 'whatever long enough',
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no account has the address');

    const done = spawnSync(process.execPath, [BIN, 'reset-password', '--email', 'Locked-Out@example.test'], {
      env,
      input: 'a fresh passphrase\n',
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(done.stderr).toBe('');
    expect(done.status).toBe(0);
    expect(done.stdout).toContain('New password set for');

    database = await openConfiguredDatabase(config);
    try {
      const row = await new UserService(database.db).get(user.id);
      expect(await passwords.verify(row.passwordHash!, 'a fresh passphrase')).toBe(true);
      const sessions = await database.db.select().from(authSessions);
      expect(sessions.every((session) => session.revokedAt !== null)).toBe(true);
    } finally {
      await database.close();
    }
  });
});
