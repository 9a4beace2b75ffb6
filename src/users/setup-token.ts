import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The one-time secret that lets a non-loopback browser create the first administrator. Only
 * its SHA-256 digest is kept, compared in constant time; it is spent by the first successful
 * setup (and setup closes for good once an administrator exists anyway).
 */
export class SetupToken {
  private digest: Buffer | undefined;

  private constructor(plaintext: string) {
    this.digest = sha256(plaintext);
  }

  /** A fresh token and its plaintext, which the caller prints once and forgets. */
  static generate(): { token: SetupToken; plaintext: string } {
    const plaintext = randomBytes(32).toString('base64url');
    return { token: new SetupToken(plaintext), plaintext };
  }

  matches(candidate: string): boolean {
    if (!this.digest) return false;
    return timingSafeEqual(this.digest, sha256(candidate));
  }

  spend(): void {
    this.digest = undefined;
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
