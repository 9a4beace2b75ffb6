import { and, eq } from 'drizzle-orm';
import { isApiKey, type ApiKeyService } from '../api-keys/api-key.service.ts';
import type { Db } from '../db/database.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { Caller } from '../http/caller.ts';
import { users } from '../users/user.schema.ts';
import { authSessions } from './auth.schema.ts';
import type { JwtTokens } from './jwt-tokens.ts';
import type { TokenRevocationStore } from './token-revocation-store.ts';

/**
 * Turns a credential into a caller. Every call re-reads the user and the session, so a
 * deactivation, a logout or a password change takes effect on the very next request.
 */
export class Authenticator {
  constructor(
    private readonly db: Db,
    private readonly tokens: JwtTokens,
    private readonly revocations: TokenRevocationStore,
    private readonly apiKeys: ApiKeyService,
  ) {}

  /** A bearer credential: an API key (`ik_…`) or an access JWT. */
  async fromBearer(credential: string): Promise<Caller> {
    if (isApiKey(credential)) {
      const owner = await this.apiKeys.authenticate(credential);
      return {
        id: owner.userId,
        role: owner.role,
        method: 'api_key',
        session: null,
        apiKeyId: owner.keyId,
        emailVerified: owner.emailVerified,
      };
    }
    return this.fromAccessToken(credential, 'bearer');
  }

  /** An access JWT, presented in the `Authorization` header or the access cookie (`method`). */
  async fromAccessToken(token: string, method: 'cookie' | 'bearer'): Promise<Caller> {
    const claims = await this.tokens.verify(token, 'access');
    // Primary-key lookups only, run side by side: the cost of checking on every request.
    const [revoked, rows] = await Promise.all([
      this.revocations.isRevoked(claims.jti),
      this.db
        .select({
          role: users.role,
          isActive: users.isActive,
          emailVerifiedAt: users.emailVerifiedAt,
          sessionRevokedAt: authSessions.revokedAt,
          sessionId: authSessions.id,
        })
        .from(users)
        .leftJoin(authSessions, and(eq(authSessions.id, claims.sid), eq(authSessions.userId, users.id)))
        .where(eq(users.id, claims.sub))
        .limit(1),
    ]);
    const row = rows[0];
    if (!row) throw ERRORS.invalidToken();
    if (!row.isActive) throw ERRORS.accountDisabled();
    if (revoked || row.sessionId === null || row.sessionRevokedAt !== null) throw ERRORS.tokenRevoked();
    return {
      id: claims.sub,
      role: row.role,
      method,
      session: { id: claims.sid, tokenId: claims.jti, tokenExpiresAt: new Date(claims.exp * 1000) },
      apiKeyId: null,
      emailVerified: row.emailVerifiedAt !== null,
    };
  }
}
