import { useEffect, useState } from 'preact/hooks';

/** Hash routes (`#/files/<id>`): the API serves one page at `/` and needs no history fallback. */
export function currentRoute(): string[] {
  const path = location.hash.replace(/^#\/?/, '').split('?')[0] ?? '';
  return path.split('/').filter(Boolean).map(decodeURIComponent);
}

export function useRoute(): string[] {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return route;
}

export function navigate(path: string): void {
  location.hash = `#/${path.replace(/^\//, '')}`;
}

export const href = (path: string) => `#/${path.replace(/^\//, '')}`;
