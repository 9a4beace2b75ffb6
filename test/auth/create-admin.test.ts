import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PasswordHasher } from '../../src/auth/password-hasher.ts';
import { createAdmin } from '../../src/auth/create-admin.ts';
import { UserService } from '../../src/users/user.service.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let testDatabase: TestDatabase;
let deps: Parameters<typeof createAdmin>[0];

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  deps = { db: testDatabase.database.db, users: new UserService(testDatabase.database.db), passwords: new PasswordHasher() };
});

afterAll(async () => {
  await testDatabase?.close();
});

describe('createAdmin (intake create-admin)', () => {
  it('creates an active administrator whose password verifies', async () => {
    const { user, created } = await createAdmin(deps, {
      email: 'First@Example.test',
      password: 'a long admin password',
      fullName: 'First',
      resetPassword: false,
    });
    expect(created).toBe(true);
    expect(user).toMatchObject({ email: 'first@example.test', role: 'admin', isActive: true, fullName: 'First' });
    expect(await deps.passwords.verify(user.passwordHash!, 'a long admin password')).toBe(true);
  });

  it('promotes and reactivates an existing account without touching its password', async () => {
    const existing = await deps.users.create({
      email: 'member@example.test',
      passwordHash: await deps.passwords.hash('member password'),
      fullName: null,
    });
    await deps.users.update(existing.id, { isActive: false });
    const { user, created } = await createAdmin(deps, {
      email: 'MEMBER@example.test',
      password: undefined,
      fullName: null,
      resetPassword: false,
    });
    expect(created).toBe(false);
    expect(user).toMatchObject({ id: existing.id, role: 'admin', isActive: true });
    expect(await deps.passwords.verify(user.passwordHash!, 'member password')).toBe(true);
  });

  it('replaces the password of an existing account with --reset-password', async () => {
    await deps.users.create({
      email: 'reset@example.test',
      passwordHash: await deps.passwords.hash('old password'),
      fullName: null,
    });
    const { user } = await createAdmin(deps, {
      email: 'reset@example.test',
      password: 'new password!',
      fullName: null,
      resetPassword: true,
    });
    expect(await deps.passwords.verify(user.passwordHash!, 'new password!')).toBe(true);
  });

  it('refuses to create an account with a password outside 8–128 characters', async () => {
    await expect(
      createAdmin(deps, { email: 'short@example.test', password: 'short', fullName: null, resetPassword: false }),
    ).rejects.toMatchObject({
      code: 'bad_request',
    });
    await expect(
      createAdmin(deps, { email: 'none@example.test', password: undefined, fullName: null, resetPassword: false }),
    ).rejects.toMatchObject({
      code: 'bad_request',
    });
  });
});
