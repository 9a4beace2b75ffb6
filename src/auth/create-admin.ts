import type { Db } from '../db/database.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { UserRow } from '../users/user.schema.ts';
import type { UserService } from '../users/user.service.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { revokeUserSessions } from './sessions.ts';

export interface CreateAdminInput {
  email: string;
  /** Needed to create the account, or with `resetPassword` to replace an existing one's. */
  password: string | undefined;
  fullName: string | null;
  resetPassword: boolean;
}

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

/**
 * The way to the first administrator (`intake create-admin`): creates the account with the
 * admin role, or promotes and reactivates an existing one.
 */
export async function createAdmin(
  deps: { db: Db; users: UserService; passwords: PasswordHasher },
  input: CreateAdminInput,
): Promise<{ user: UserRow; created: boolean }> {
  const needsPassword = input.resetPassword || !(await deps.users.findByEmail(input.email));
  if (needsPassword) {
    const length = input.password?.length ?? 0;
    if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
      throw ERRORS.badRequest(`The password must have ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters.`);
    }
  }
  const existing = await deps.users.findByEmail(input.email);
  if (!existing) {
    const passwordHash = await deps.passwords.hash(input.password ?? '');
    const user = await deps.users.create({ email: input.email, passwordHash, fullName: input.fullName, role: 'admin' });
    return { user, created: true };
  }
  if (input.resetPassword && input.password) {
    await deps.users.setPasswordHash(existing.id, await deps.passwords.hash(input.password));
    await revokeUserSessions(deps.db, existing.id);
  }
  const user = await deps.users.update(existing.id, {
    role: 'admin',
    isActive: true,
    ...(input.fullName ? { fullName: input.fullName } : {}),
  });
  return { user, created: false };
}
