import { useEffect, useState } from 'preact/hooks';
import { api } from '../api/client';

type Provider = { name: string; label: string };

/** The configured providers, once per page load; none when the list cannot be read. */
export function useProviders(): Provider[] {
  const [providers, setProviders] = useState<Provider[]>([]);
  useEffect(() => {
    void api.GET('/api/v1/auth/providers').then(({ data }) => setProviders(data?.items ?? []));
  }, []);
  return providers;
}

/**
 * One button per identity provider. They are plain links: the sign-in is a chain of top-level
 * navigations (here, the provider, the callback), which ends back on the page it started from.
 */
export function ProviderButtons() {
  const providers = useProviders();
  if (providers.length === 0) return null;
  // The console routes by the fragment (#/account), which the server keeps in the redirect.
  const returnTo = encodeURIComponent(`${location.pathname}${location.search}${location.hash}`);
  return (
    <div class="providers" role="group" aria-label="Sign in with another account">
      <p class="divider">or</p>
      {providers.map((provider) => (
        <a
          key={provider.name}
          class="button provider"
          href={`/api/v1/auth/oidc/${encodeURIComponent(provider.name)}?return_to=${returnTo}`}
        >
          Sign in with {provider.label}
        </a>
      ))}
    </div>
  );
}
