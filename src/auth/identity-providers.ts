import * as oidc from 'openid-client';
import type { GithubProviderConfig, IdentityProviderConfig, OidcProviderConfig } from '../config/identity-provider-config.ts';
import { isLoopbackHost } from '../config/identity-provider-config.ts';
import { isAppError } from '../errors/app-error.ts';
import { ERRORS } from '../errors/catalog.ts';

/** Who the provider says signed in. */
export interface ProviderProfile {
  /** The provider's stable id for the person. */
  subject: string;
  email: string | null;
  /** Only true when the provider itself says it proved the address. */
  emailVerified: boolean;
  name: string | null;
}

/** What the start of a sign-in sends to the provider; the callback checks the same values. */
export interface AuthorizationChecks {
  redirectUri: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface IdentityProviderClient {
  readonly name: string;
  readonly label: string;
  readonly kind: IdentityProviderConfig['kind'];
  authorizationUrl(checks: AuthorizationChecks): Promise<URL>;
  /** Exchanges the code in `callbackUrl` and proves who signed in; throws a catalog error otherwise. */
  finish(callbackUrl: URL, checks: AuthorizationChecks): Promise<ProviderProfile>;
}

/** The HTTP client the providers are reached with (tests pass one that stands between). */
export type ProviderFetch = typeof fetch;

/** Long enough for a slow provider, short enough that a hung one does not hold a sign-in page. */
const PROVIDER_TIMEOUT_SECONDS = 10;

export function identityProviderClients(
  configs: readonly IdentityProviderConfig[],
  fetchImpl: ProviderFetch = fetch,
): Map<string, IdentityProviderClient> {
  return new Map(
    configs.map((config) => [
      config.name,
      config.kind === 'github' ? new GithubProvider(config, fetchImpl) : new OidcProvider(config, fetchImpl),
    ]),
  );
}

/** A provider as configured: its name and label, its settings, and how it reaches the network. */
abstract class ConfiguredProvider<Settings extends { name: string; label: string }> {
  readonly name: string;
  readonly label: string;

  constructor(
    protected readonly config: Settings,
    protected readonly fetchImpl: ProviderFetch,
  ) {
    this.name = config.name;
    this.label = config.label;
  }
}

/**
 * A generic OpenID Connect issuer through `openid-client`: discovery, authorization code with
 * PKCE, and an ID token checked for issuer, audience, signature (the issuer's JWKS), expiry and nonce.
 */
class OidcProvider extends ConfiguredProvider<OidcProviderConfig> implements IdentityProviderClient {
  readonly kind = 'oidc';
  /** The discovery document, read once per process; a failed read is tried again next time. */
  private discovered: Promise<oidc.Configuration> | undefined;

  async authorizationUrl(checks: AuthorizationChecks): Promise<URL> {
    const configuration = await this.configuration();
    return oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: checks.redirectUri,
      scope: this.config.scopes.join(' '),
      response_type: 'code',
      state: checks.state,
      nonce: checks.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256',
    });
  }

  async finish(callbackUrl: URL, checks: AuthorizationChecks): Promise<ProviderProfile> {
    const configuration = await this.configuration();
    try {
      const tokens = await oidc.authorizationCodeGrant(
        configuration,
        callbackUrl,
        {
          pkceCodeVerifier: checks.codeVerifier,
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          idTokenExpected: true,
        },
        { redirect_uri: checks.redirectUri },
      );
      const claims = tokens.claims();
      if (!claims) throw ERRORS.identitySignInRejected('The provider sent no ID token.');
      let merged: Record<string, unknown> = claims;
      // Conformant issuers may keep scope claims out of the ID token and serve them from userinfo.
      if (claims.email === undefined && configuration.serverMetadata().userinfo_endpoint) {
        merged = { ...(await oidc.fetchUserInfo(configuration, tokens.access_token, claims.sub)), ...claims };
      }
      return {
        subject: claims.sub,
        email: typeof merged.email === 'string' ? merged.email : null,
        // Some issuers send the string "true"; anything else is not a proof.
        emailVerified: merged.email_verified === true || merged.email_verified === 'true',
        name: typeof merged.name === 'string' ? merged.name : null,
      };
    } catch (error) {
      throw providerFailure(error);
    }
  }

  private configuration(): Promise<oidc.Configuration> {
    this.discovered ??= this.discover().catch((error: unknown) => {
      this.discovered = undefined;
      throw ERRORS.identityProviderUnavailable(this.name, error);
    });
    return this.discovered;
  }

  private async discover(): Promise<oidc.Configuration> {
    const issuer = new URL(this.config.issuer);
    const configuration = await oidc.discovery(
      issuer,
      this.config.clientId,
      undefined,
      oidc.ClientSecretBasic(this.config.clientSecret),
      {
        // The DOM and undici typings of a body differ; the function is the same fetch.
        [oidc.customFetch]: this.fetchImpl as oidc.CustomFetch,
        // The configuration refuses plain http except on loopback (a provider run beside the service).
        execute: issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname) ? [oidc.allowInsecureRequests] : [],
        timeout: PROVIDER_TIMEOUT_SECONDS,
      },
    );
    configuration.timeout = PROVIDER_TIMEOUT_SECONDS;
    return configuration;
  }
}

/** An unreachable provider is a 503; an answer that fails a check is a refused sign-in. */
function providerFailure(error: unknown): Error {
  if (isAppError(error)) return error;
  const unreachable =
    error instanceof TypeError ||
    (error instanceof oidc.ClientError &&
      (error.code === 'OAUTH_TIMEOUT' || error.code === 'OAUTH_ABORT' || error.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM'));
  if (unreachable) return ERRORS.identityProviderUnavailable('the provider', error);
  return ERRORS.identitySignInRejected(
    'The provider’s answer failed a check (state, code, issuer, audience, signature, expiry or nonce).',
    error,
  );
}

const GithubToken = (body: unknown): string | undefined =>
  body && typeof body === 'object' && 'access_token' in body && typeof body.access_token === 'string'
    ? body.access_token
    : undefined;

/**
 * GitHub's OAuth2 (it issues no ID token): the code is exchanged with PKCE, the person is
 * `/user`'s numeric id, and only an address `/user/emails` marks verified counts as proven.
 */
class GithubProvider extends ConfiguredProvider<GithubProviderConfig> implements IdentityProviderClient {
  readonly kind = 'github';

  async authorizationUrl(checks: AuthorizationChecks): Promise<URL> {
    const url = new URL(`${this.config.webUrl}/login/oauth/authorize`);
    url.search = new URLSearchParams({
      client_id: this.config.clientId,
      redirect_uri: checks.redirectUri,
      scope: this.config.scopes.join(' '),
      state: checks.state,
      code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256',
      allow_signup: 'true',
    }).toString();
    return url;
  }

  async finish(callbackUrl: URL, checks: AuthorizationChecks): Promise<ProviderProfile> {
    const code = callbackUrl.searchParams.get('code');
    if (callbackUrl.searchParams.get('state') !== checks.state || !code) {
      throw ERRORS.identitySignInRejected('The provider’s answer carries no code or another state.');
    }
    const token = GithubToken(
      await this.call(`${this.config.webUrl}/login/oauth/access_token`, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          client_id: this.config.clientId,
          client_secret: this.config.clientSecret,
          code,
          redirect_uri: checks.redirectUri,
          code_verifier: checks.codeVerifier,
        }).toString(),
      }),
    );
    // GitHub answers a refused code with 200 and `{error}`, so no token is the refusal.
    if (!token) throw ERRORS.identitySignInRejected('GitHub refused the code.');
    const api = { headers: { accept: 'application/vnd.github+json', authorization: `Bearer ${token}` } };
    const [user, emails] = await Promise.all([
      this.call(`${this.config.apiUrl}/user`, api),
      this.call(`${this.config.apiUrl}/user/emails`, api),
    ]);
    const id = user && typeof user === 'object' && 'id' in user ? user.id : undefined;
    if (typeof id !== 'number' && typeof id !== 'string') throw ERRORS.identitySignInRejected('GitHub sent no user id.');
    const verified = (Array.isArray(emails) ? emails : [])
      .filter((entry): entry is { email: string; verified: true; primary?: boolean } =>
        Boolean(entry && typeof entry.email === 'string' && entry.verified === true),
      )
      .sort((a, b) => Number(b.primary === true) - Number(a.primary === true));
    const name = user && typeof user === 'object' && 'name' in user && typeof user.name === 'string' ? user.name : null;
    return { subject: String(id), email: verified[0]?.email ?? null, emailVerified: verified.length > 0, name };
  }

  private async call(url: string, init: RequestInit): Promise<unknown> {
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        ...init,
        headers: { 'user-agent': 'intake', ...(init.headers as Record<string, string>) },
        signal: AbortSignal.timeout(PROVIDER_TIMEOUT_SECONDS * 1000),
      });
    } catch (error) {
      throw ERRORS.identityProviderUnavailable(this.name, error);
    }
    if (response.status >= 500) throw ERRORS.identityProviderUnavailable(this.name, new Error(`HTTP ${response.status}`));
    if (!response.ok) throw ERRORS.identitySignInRejected(`GitHub answered ${response.status}.`);
    return response.json().catch((error: unknown) => {
      throw ERRORS.identitySignInRejected('GitHub’s answer is not JSON.', error);
    });
  }
}
