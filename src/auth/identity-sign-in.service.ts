import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, asc, count, eq, lt } from 'drizzle-orm';
import * as oidc from 'openid-client';
import type { AuditRecorder } from '../audit/audit.service.ts';
import type { Db } from '../db/database.ts';
import { isAppError } from '../errors/app-error.ts';
import { ERRORS } from '../errors/catalog.ts';
import { normalizeEmail, UserService } from '../users/user.service.ts';
import type { UserRow } from '../users/user.schema.ts';
import type { ClientInfo } from './sign-in-limits.ts';
import type { IdentityProviderClient, ProviderProfile } from './identity-providers.ts';
import { identitySignInFlows, userIdentities, type UserIdentityRow } from './identity.schema.ts';

export interface IdentitySignInDependencies {
  db: Db;
  providers: ReadonlyMap<string, IdentityProviderClient>;
  audit: AuditRecorder;
  /** Where the provider sends the browser back: `{provider}` is replaced by the provider's name. */
  redirectUri: (provider: string) => string;
  flowTtlSeconds: number;
  registrationOpen: boolean;
  now: () => number;
}

/** What the browser needs to go to the provider: the URL, and the id it must bring back (in a cookie). */
export interface StartedSignIn {
  flowId: string;
  authorizationUrl: string;
}

/** A callback that proved who signed in; a session is opened for `user` by the caller (or nothing, for a link). */
export interface FinishedSignIn {
  user: UserRow;
  provider: string;
  returnTo: string;
  /** True when a signed-in user linked the provider (no new session is needed). */
  linked: boolean;
}

export interface ProviderSummary {
  name: string;
  label: string;
  kind: IdentityProviderClient['kind'];
}

/**
 * Sign-in and linking with identity providers. Accounts are matched by the provider's stable
 * subject; an e-mail joins a provider to an existing account only when both sides proved it.
 */
export class IdentitySignIn {
  constructor(private readonly deps: IdentitySignInDependencies) {}

  providers(): ProviderSummary[] {
    return [...this.deps.providers.values()].map(({ name, label, kind }) => ({ name, label, kind }));
  }

  async start(providerName: string, input: { returnTo: string; linkUserId?: string }): Promise<StartedSignIn> {
    const provider = this.provider(providerName);
    const flowId = randomBytes(32).toString('base64url');
    const checks = {
      redirectUri: this.deps.redirectUri(provider.name),
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
    };
    const authorizationUrl = await provider.authorizationUrl(checks);
    const now = this.deps.now();
    // Abandoned sign-ins would otherwise stay forever; the expiry index makes this cheap.
    await this.deps.db.delete(identitySignInFlows).where(lt(identitySignInFlows.expiresAt, new Date(now)));
    await this.deps.db.insert(identitySignInFlows).values({
      idHash: digest(flowId),
      provider: provider.name,
      state: checks.state,
      nonce: checks.nonce,
      codeVerifier: checks.codeVerifier,
      returnTo: input.returnTo,
      linkUserId: input.linkUserId ?? null,
      expiresAt: new Date(now + this.deps.flowTtlSeconds * 1000),
    });
    return { flowId, authorizationUrl: authorizationUrl.toString() };
  }

  /**
   * Ends a sign-in: the flow is taken (deleted) first, so a callback can be used once whatever
   * happens next; then the provider's answer is checked and the account found, linked or created.
   */
  async finish(
    providerName: string,
    flowId: string | undefined,
    query: URLSearchParams,
    client: ClientInfo,
  ): Promise<FinishedSignIn> {
    const provider = this.provider(providerName);
    if (!flowId) throw ERRORS.identitySignInExpired();
    const [flow] = await this.deps.db
      .delete(identitySignInFlows)
      .where(eq(identitySignInFlows.idHash, digest(flowId)))
      .returning();
    const state = query.get('state') ?? '';
    if (!flow || flow.provider !== provider.name || flow.expiresAt.getTime() < this.deps.now() || !sameText(flow.state, state)) {
      throw ERRORS.identitySignInExpired();
    }
    const redirectUri = this.deps.redirectUri(provider.name);
    const callbackUrl = new URL(redirectUri);
    callbackUrl.search = query.toString();
    let profile: ProviderProfile;
    try {
      profile = await provider.finish(callbackUrl, {
        redirectUri,
        state: flow.state,
        nonce: flow.nonce,
        codeVerifier: flow.codeVerifier,
      });
    } catch (error) {
      await this.deps.audit.record({
        action: 'sign_in.failed',
        targetUserId: flow.linkUserId,
        ip: client.ip,
        details: { method: 'provider', provider: provider.name, reason: isAppError(error) ? error.code : 'error' },
      });
      throw error;
    }
    if (flow.linkUserId) {
      const user = await this.link(flow.linkUserId, provider.name, profile, client);
      return { user, provider: provider.name, returnTo: flow.returnTo, linked: true };
    }
    const user = await this.accountFor(provider.name, profile, client);
    if (!user.isActive) {
      await this.deps.audit.record({
        action: 'sign_in.failed',
        targetUserId: user.id,
        ip: client.ip,
        details: { method: 'provider', provider: provider.name, reason: 'account_disabled' },
      });
      throw ERRORS.accountDisabled();
    }
    return { user, provider: provider.name, returnTo: flow.returnTo, linked: false };
  }

  /** Written once the session exists, so the entry names it. */
  async recordSignIn(signIn: FinishedSignIn, sessionId: string, client: ClientInfo): Promise<void> {
    // AuthService.issueSignIn has written `sign_in.succeeded` (method `provider:<name>`); this
    // entry says which provider account it was.
    await this.deps.audit.record({
      action: 'identity.signed_in',
      actorId: signIn.user.id,
      targetUserId: signIn.user.id,
      ip: client.ip,
      details: { provider: signIn.provider, session_id: sessionId },
    });
  }

  async identities(userId: string): Promise<{ items: UserIdentityRow[]; passwordSet: boolean }> {
    const [items, user] = await Promise.all([
      this.deps.db
        .select()
        .from(userIdentities)
        .where(eq(userIdentities.userId, userId))
        .orderBy(asc(userIdentities.createdAt), asc(userIdentities.id)),
      new UserService(this.deps.db).get(userId),
    ]);
    return { items, passwordSet: user.passwordHash !== null };
  }

  /** Someone else's identity answers 404; the last way into an account is kept. */
  async unlink(userId: string, identityId: string, client: ClientInfo): Promise<void> {
    // The audit entry is written after the transaction: PGlite has one connection, which the transaction holds.
    const identity = await this.deps.db.transaction(async (tx) => {
      const user = await new UserService(tx).get(userId);
      const [identity] = await tx
        .select()
        .from(userIdentities)
        .where(and(eq(userIdentities.id, identityId), eq(userIdentities.userId, userId)))
        .limit(1)
        .for('update');
      if (!identity) throw ERRORS.notFound('No linked identity with this id.');
      const [linked] = await tx.select({ total: count() }).from(userIdentities).where(eq(userIdentities.userId, userId));
      if (user.passwordHash === null && (linked?.total ?? 0) <= 1) throw ERRORS.lastSignInMethod();
      await tx.delete(userIdentities).where(eq(userIdentities.id, identityId));
      return identity;
    });
    await this.deps.audit.record({
      action: 'identity.unlinked',
      actorId: userId,
      targetUserId: userId,
      ip: client.ip,
      details: { provider: identity.provider, identity_id: identity.id },
    });
  }

  private provider(name: string): IdentityProviderClient {
    const provider = this.deps.providers.get(name);
    if (!provider) throw ERRORS.identityProviderNotFound();
    return provider;
  }

  private async link(userId: string, provider: string, profile: ProviderProfile, client: ClientInfo): Promise<UserRow> {
    const users = new UserService(this.deps.db);
    const user = await users.get(userId);
    const existing = await this.identity(provider, profile.subject);
    if (existing && existing.userId !== userId) throw ERRORS.identityLinkedElsewhere();
    if (!existing) await this.recordLink(await this.insertIdentity(this.deps.db, userId, provider, profile), 'signed_in', client);
    return user;
  }

  private async accountFor(provider: string, profile: ProviderProfile, client: ClientInfo): Promise<UserRow> {
    const users = new UserService(this.deps.db);
    const known = await this.identity(provider, profile.subject);
    if (known) {
      await this.deps.db
        .update(userIdentities)
        .set({ lastUsedAt: new Date(this.deps.now()), email: profile.email, emailVerified: profile.emailVerified })
        .where(eq(userIdentities.id, known.id));
      return users.get(known.userId);
    }
    if (profile.emailVerified && profile.email) {
      const owner = await users.findByEmail(profile.email);
      if (owner) {
        // Both sides must have proved the address: otherwise whoever registered it first, without
        // owning it, would share the account with its real owner.
        if (!owner.emailVerifiedAt) throw ERRORS.identityEmailInUse();
        await this.recordLink(await this.insertIdentity(this.deps.db, owner.id, provider, profile), 'verified_email', client);
        return owner;
      }
    }
    if (!this.deps.registrationOpen) throw ERRORS.registrationClosed();
    const created = await this.deps.db.transaction(async (tx) => {
      const accounts = new UserService(tx);
      const verified = profile.emailVerified && profile.email !== null;
      // An unproven address is kept only when nobody has it; otherwise the account gets a
      // placeholder under the reserved `.invalid` domain, never someone else's address.
      const email =
        profile.email && !(await accounts.findByEmail(profile.email))
          ? normalizeEmail(profile.email)
          : `${provider}-${randomBytes(6).toString('hex')}@users.invalid`;
      const user = await accounts.create({
        email,
        passwordHash: null,
        fullName: profile.name?.slice(0, 200) ?? null,
        emailVerifiedAt: verified ? new Date(this.deps.now()) : null,
      });
      return { user, identity: await this.insertIdentity(tx, user.id, provider, profile) };
    });
    await this.recordLink(created.identity, 'created', client);
    return created.user;
  }

  private async identity(provider: string, subject: string): Promise<UserIdentityRow | undefined> {
    const [row] = await this.deps.db
      .select()
      .from(userIdentities)
      .where(and(eq(userIdentities.provider, provider), eq(userIdentities.subject, subject)))
      .limit(1);
    return row;
  }

  private async insertIdentity(db: Db, userId: string, provider: string, profile: ProviderProfile): Promise<UserIdentityRow> {
    const now = new Date(this.deps.now());
    const [row] = await db
      .insert(userIdentities)
      .values({
        userId,
        provider,
        subject: profile.subject,
        email: profile.email,
        emailVerified: profile.emailVerified,
        createdAt: now,
        lastUsedAt: now,
      })
      .returning();
    if (!row) throw ERRORS.internal();
    return row;
  }

  private async recordLink(identity: UserIdentityRow, how: 'created' | 'verified_email' | 'signed_in', client: ClientInfo) {
    await this.deps.audit.record({
      action: 'identity.linked',
      actorId: identity.userId,
      targetUserId: identity.userId,
      ip: client.ip,
      details: { provider: identity.provider, identity_id: identity.id, how },
    });
  }
}

function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

function sameText(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
