import { describe, expect, it } from 'vitest';
import { base32, matchTotp, otpauthUri, totpCode, totpStep } from '../../src/auth/totp.ts';

/** RFC 6238 appendix B (SHA-1 seed), cut to the 6 digits apps show. */
const SEED = Buffer.from('12345678901234567890', 'ascii');
const VECTORS: [seconds: number, code: string][] = [
  [59, '287082'],
  [1111111109, '081804'],
  [1111111111, '050471'],
  [1234567890, '005924'],
  [2000000000, '279037'],
  [20000000000, '353130'],
];

describe('TOTP (RFC 6238)', () => {
  it('computes the codes of the RFC test vectors', () => {
    for (const [seconds, code] of VECTORS) expect(totpCode(SEED, totpStep(seconds * 1000))).toBe(code);
  });

  it('accepts a step either side of now, once, and never an older one', () => {
    const now = 1111111109 * 1000;
    const step = totpStep(now);
    expect(matchTotp(SEED, totpCode(SEED, step - 1), now, null)).toBe(step - 1);
    expect(matchTotp(SEED, totpCode(SEED, step + 1), now, null)).toBe(step + 1);
    expect(matchTotp(SEED, totpCode(SEED, step + 2), now, null)).toBeUndefined();
    expect(matchTotp(SEED, totpCode(SEED, step), now, step)).toBeUndefined();
    expect(matchTotp(SEED, totpCode(SEED, step - 1), now, step - 1)).toBeUndefined();
    expect(matchTotp(SEED, '12345', now, null)).toBeUndefined();
  });

  it('writes the secret in base32 (RFC 4648) inside an otpauth URI', () => {
    expect(base32(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    expect(otpauthUri(SEED, 'Intake', 'ada@example.com')).toBe(
      'otpauth://totp/Intake:ada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Intake&algorithm=SHA1&digits=6&period=30',
    );
  });
});
