import { ConfigError, type EnvReader } from './config-spec.ts';

/** `oidc`: any OpenID Connect issuer found by discovery. `github`: GitHub's OAuth2 (no ID token). */
export type IdentityProviderKind = 'oidc' | 'github';

interface ProviderBase {
  /** The name in the URLs (`/auth/oidc/{name}`) and in stored identities; never change it once used. */
  readonly name: string;
  /** What the sign-in button says. */
  readonly label: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scopes: readonly string[];
}

export interface OidcProviderConfig extends ProviderBase {
  readonly kind: 'oidc';
  /** The issuer identifier; `/.well-known/openid-configuration` is read from it. */
  readonly issuer: string;
}

export interface GithubProviderConfig extends ProviderBase {
  readonly kind: 'github';
  /** Where the browser signs in and the code is exchanged (`https://github.com`, or a GitHub Enterprise host). */
  readonly webUrl: string;
  /** Where the profile and addresses are read (`https://api.github.com`, or `https://HOST/api/v3`). */
  readonly apiUrl: string;
}

export type IdentityProviderConfig = OidcProviderConfig | GithubProviderConfig;

export interface IdentityProvidersConfig {
  readonly providers: readonly IdentityProviderConfig[];
  /** How long a started sign-in may take before its callback is refused. */
  readonly flowTtlSeconds: number;
}

const NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * `OIDC_PROVIDERS=corp,github` names the providers; each reads `OIDC_<NAME>_*` (the name upper-cased,
 * `-` as `_`). A provider named `github` is GitHub's preset unless `OIDC_<NAME>_TYPE` says otherwise.
 */
export function readIdentityProviders(read: EnvReader): IdentityProvidersConfig {
  const names = read.list('OIDC_PROVIDERS').map((name) => name.toLowerCase());
  const seen = new Set<string>();
  const providers = names.map((name): IdentityProviderConfig => {
    if (!NAME.test(name)) throw new ConfigError('OIDC_PROVIDERS', 'names of lowercase letters, digits and -', name);
    if (seen.has(name)) throw new ConfigError('OIDC_PROVIDERS', 'names that appear once', name);
    seen.add(name);
    const prefix = `OIDC_${name.toUpperCase().replace(/-/g, '_')}_`;
    const required = (suffix: string) => {
      const value = read.optionalString(prefix + suffix);
      if (value === undefined) throw new ConfigError(prefix + suffix, `set, since OIDC_PROVIDERS names ${name}`, '');
      return value;
    };
    const kind = read.oneOf(prefix + 'TYPE', ['oidc', 'github'], name === 'github' ? 'github' : 'oidc');
    const common = {
      name,
      clientId: required('CLIENT_ID'),
      clientSecret: required('CLIENT_SECRET'),
    };
    const scopes = read
      .optionalString(prefix + 'SCOPES')
      ?.split(/[\s,]+/)
      .filter(Boolean);
    if (kind === 'github') {
      return {
        ...common,
        kind,
        label: read.string(prefix + 'LABEL', 'GitHub'),
        scopes: scopes ?? ['read:user', 'user:email'],
        webUrl: baseUrl(read, prefix + 'WEB_URL', 'https://github.com'),
        apiUrl: baseUrl(read, prefix + 'API_URL', 'https://api.github.com'),
      };
    }
    const issuer = read.url(prefix + 'ISSUER', ['https:', 'http:']);
    if (!issuer) throw new ConfigError(prefix + 'ISSUER', `set, since OIDC_PROVIDERS names ${name}`, '');
    if (issuer.protocol === 'http:' && !isLoopbackHost(issuer.hostname)) {
      // Plain http would let anyone on the path forge the discovery document and the keys.
      throw new ConfigError(prefix + 'ISSUER', 'an https URL (http only on a loopback address)', issuer.toString());
    }
    return {
      ...common,
      kind,
      label: read.string(prefix + 'LABEL', name),
      scopes: scopes ?? ['openid', 'email', 'profile'],
      // The issuer identifier is compared with the ID token's `iss` as written, trailing slash included.
      issuer: read.string(prefix + 'ISSUER', ''),
    };
  });
  return {
    providers,
    flowTtlSeconds: read.integer('OIDC_FLOW_TTL_SECONDS', 600, { min: 30, max: 3600 }),
  };
}

function baseUrl(read: EnvReader, name: string, fallback: string): string {
  const url = read.url(name, ['https:', 'http:']);
  if (url?.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new ConfigError(name, 'an https URL (http only on a loopback address)', url.toString());
  }
  return (url?.toString() ?? fallback).replace(/\/$/, '');
}

export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
