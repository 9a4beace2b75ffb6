import { randomUUID } from 'node:crypto';
import { isUuid } from '../db/uuid.ts';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { ERRORS } from '../errors/catalog.ts';
import { JWT_ALGORITHM, type SigningKeys } from './signing-keys.ts';

export type TokenType = 'access' | 'refresh';

export const TOKEN_ISSUER = 'intake';
export const TOKEN_AUDIENCE = 'intake-api';

export interface TokenClaims {
  /** User id. */
  sub: string;
  jti: string;
  /** Session (refresh-token family) the token belongs to. */
  sid: string;
  type: TokenType;
  iat: number;
  exp: number;
}

export interface IssuedToken {
  token: string;
  jti: string;
  expiresAt: Date;
}

/** Seconds a peer's clock may run ahead of ours; the same tolerance applies to `exp`. */
const CLOCK_SKEW_SECONDS = 5;

/**
 * Tokens whose signature and claims were already checked, by their exact text. A signature
 * stays valid as long as the key that made it verifies (the keys are fixed for the life of the
 * process), so only the lifetime is checked again; an Ed25519 verification per request was the
 * largest CPU cost of an authenticated call. Bounded; the oldest entry goes first.
 */
const VERIFIED_CACHE_SIZE = 10_000;

/** Signs and verifies the service's JWTs. Knows nothing of HTTP or the database. */
export class JwtTokens {
  private readonly verified = new Map<string, TokenClaims>();

  constructor(
    private readonly keys: SigningKeys,
    private readonly lifetimes: { accessSeconds: number; refreshSeconds: number },
    private readonly now: () => number = Date.now,
  ) {}

  issue(type: TokenType, subject: { userId: string; sessionId: string }): Promise<IssuedToken> {
    const seconds = type === 'access' ? this.lifetimes.accessSeconds : this.lifetimes.refreshSeconds;
    return this.sign({ type, sub: subject.userId, sid: subject.sessionId, lifetimeSeconds: seconds });
  }

  /**
   * Verifies signature, algorithm, issuer, audience, lifetime, required claims and type.
   * Throws `token_expired` for an expired token and `invalid_token` for anything else wrong.
   */
  async verify(token: string, expected: TokenType): Promise<TokenClaims> {
    const known = this.verified.get(token);
    if (known !== undefined) {
      if (known.exp <= Math.floor(this.now() / 1000) - CLOCK_SKEW_SECONDS) {
        this.verified.delete(token);
        throw ERRORS.tokenExpired();
      }
      if (known.type !== expected) {
        throw ERRORS.invalidToken(`A ${known.type} token cannot be used where a ${expected} token is expected.`);
      }
      return known;
    }
    const claims = await this.verifyUncached(token, expected);
    if (this.verified.size >= VERIFIED_CACHE_SIZE) {
      const oldest = this.verified.keys().next();
      if (oldest.done !== true) this.verified.delete(oldest.value);
    }
    this.verified.set(token, claims);
    return claims;
  }

  private async verifyUncached(token: string, expected: TokenType): Promise<TokenClaims> {
    let payload: JWTPayload;
    try {
      const result = await jwtVerify(token, (header: JWTHeaderParameters) => this.keyFor(header), {
        // Pinned: `none`, HS* (the public key used as an HMAC secret) and RS*/ES* are refused.
        algorithms: [JWT_ALGORITHM],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        requiredClaims: ['sub', 'exp', 'iat', 'jti', 'type', 'sid'],
        currentDate: new Date(this.now()),
        clockTolerance: CLOCK_SKEW_SECONDS,
      });
      payload = result.payload;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw ERRORS.tokenExpired();
      throw ERRORS.invalidToken();
    }
    const { sub, jti, sid, type, iat, exp } = payload as Record<string, unknown>;
    if (type !== expected) {
      throw ERRORS.invalidToken(`A ${String(type)} token cannot be used where a ${expected} token is expected.`);
    }
    if (
      typeof sub !== 'string' ||
      !isUuid(sub) ||
      typeof jti !== 'string' ||
      !isUuid(jti) ||
      typeof sid !== 'string' ||
      !isUuid(sid) ||
      typeof iat !== 'number' ||
      typeof exp !== 'number'
    ) {
      throw ERRORS.invalidToken();
    }
    // jose checks `iat` only against a maximum age: a token "issued" in the future would
    // outlive its stated lifetime, so it is as invalid as a bad signature.
    if (iat > this.now() / 1000 + CLOCK_SKEW_SECONDS) throw ERRORS.invalidToken('The token was issued in the future.');
    return { sub, jti, sid, type: expected, iat, exp };
  }

  /** Signs arbitrary claims with the current key; exposed for tests that forge bad tokens. */
  async sign(options: {
    type: string;
    sub: string;
    sid: string;
    lifetimeSeconds: number;
    jti?: string;
    issuedAtSeconds?: number;
  }): Promise<IssuedToken> {
    const jti = options.jti ?? randomUUID();
    const iat = options.issuedAtSeconds ?? Math.floor(this.now() / 1000);
    const exp = iat + options.lifetimeSeconds;
    const token = await new SignJWT({ type: options.type, sid: options.sid })
      .setProtectedHeader({ alg: JWT_ALGORITHM, kid: this.keys.current.kid, typ: 'JWT' })
      .setSubject(options.sub)
      .setJti(jti)
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.keys.current.privateKey);
    return { token, jti, expiresAt: new Date(exp * 1000) };
  }

  private keyFor(header: JWTHeaderParameters) {
    // An unknown or absent kid is refused outright rather than tried against every key.
    const entry = typeof header.kid === 'string' ? this.keys.verifying.get(header.kid) : undefined;
    if (!entry || header.alg !== JWT_ALGORITHM) throw new joseErrors.JWKSNoMatchingKey();
    return entry.key;
  }
}
