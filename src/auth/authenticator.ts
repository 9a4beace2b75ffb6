import { and, eq, sql } from 'drizzle-orm';
import { isApiKey, type ApiKeyService } from '../api-keys/api-key.service.ts';
import type { Db } from '../db/database.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { Caller } from '../http/caller.ts';
import { callerStanding } from '../users/caller-standing.ts';
import { authSessions, revokedTokens } from './auth.schema.ts';
import type { JwtTokens } from './jwt-tokens.ts';
import type { TokenRevocationStore } from './token-revocation-store.ts';

/**
 * Turns a credential into a caller. Every call re-reads the user, the session and (in the
 * database) the token's revocation, so a deactivation, a logout or a password change takes
 * effect on the very next request, in every process: nothing of that is cached. It is one
 * prepared statement per request (primary-key lookups only); with Redis revocations, the Redis
 * lookup runs beside it.
 */
export class Authenticator {
  private readonly callerQuery;

  constructor(
    private readonly db: Db,
    private readonly tokens: JwtTokens,
    private readonly revocations: TokenRevocationStore,
    private readonly apiKeys: ApiKeyService,
  ) {
    const revokedInDatabase = revocations.inDatabase === true;
    this.callerQuery = db
      .select({
        ...callerStanding.columns,
        sessionRevokedAt: authSessions.revokedAt,
        sessionId: authSessions.id,
        // Null unless the token's id is in the revocation table (always null with Redis revocations).
        revokedJti: revokedInDatabase ? revokedTokens.jti : sql<string | null>`null::uuid`,
      })
      .from(callerStanding.table)
      .leftJoin(authSessions, and(eq(authSessions.id, sql.placeholder('sid')), eq(authSessions.userId, callerStanding.userId)))
      .leftJoin(revokedTokens, revokedInDatabase ? eq(revokedTokens.jti, sql.placeholder('jti')) : sql`false`)
      .where(eq(callerStanding.userId, sql.placeholder('sub')))
      .limit(1)
      .prepare(revokedInDatabase ? 'authenticate_caller' : 'authenticate_caller_redis');
  }

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
    const lookup = this.callerQuery.execute({ sub: claims.sub, sid: claims.sid, jti: claims.jti });
    const [revokedElsewhere, rows] = await Promise.all([
      this.revocations.inDatabase === true ? false : this.revocations.isRevoked(claims.jti),
      lookup,
    ]);
    const row = rows[0];
    if (!row) throw ERRORS.invalidToken();
    if (!row.isActive) throw ERRORS.accountDisabled();
    if (revokedElsewhere || row.revokedJti !== null || row.sessionId === null || row.sessionRevokedAt !== null) {
      throw ERRORS.tokenRevoked();
    }
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
