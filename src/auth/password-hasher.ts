import { randomBytes } from 'node:crypto';
import { hash, verify, type Algorithm } from '@node-rs/argon2';

// `Algorithm` is a const enum, which isolated modules cannot read; 2 is its Argon2id member.
const ARGON2ID = 2 as Algorithm.Argon2id;

/**
 * argon2id with the first configuration OWASP's Password Storage Cheat Sheet recommends:
 * 19 MiB of memory, 2 iterations, 1 lane. Hashes embed their parameters, so raising these
 * later still verifies old hashes (and `needsRehash` tells when to upgrade one).
 */
export const ARGON2_OPTIONS = {
  algorithm: ARGON2ID,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
  outputLen: 32,
} as const;

/**
 * A stored hash argon2 cannot read: a damaged row, not a wrong password. Answered as a 500
 * (and logged by the error handler) so that it is noticed and fixed, never as "wrong password".
 * Carries no part of the hash.
 */
export class CorruptPasswordHashError extends Error {
  constructor(cause: unknown) {
    super('a stored password hash cannot be read', { cause });
    this.name = 'CorruptPasswordHashError';
  }
}

export class PasswordHasher {
  private dummyHash: Promise<string> | undefined;

  hash(password: string): Promise<string> {
    return hash(password, ARGON2_OPTIONS);
  }

  /** False for a wrong password; throws CorruptPasswordHashError when the hash itself is unreadable. */
  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await verify(passwordHash, password);
    } catch (error) {
      throw new CorruptPasswordHashError(error);
    }
  }

  /**
   * Burns the same time as a real verification, for sign-ins with an unknown email, so the
   * answer's timing does not reveal which emails have accounts.
   */
  async verifyAgainstDummy(password: string): Promise<false> {
    this.dummyHash ??= this.hash(randomBytes(16).toString('hex'));
    await this.verify(await this.dummyHash, password);
    return false;
  }
}
