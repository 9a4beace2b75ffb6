/**
 * Which methods each registered path pattern answers, so that a request with the wrong
 * method gets 405 and an `Allow` header instead of Fastify's plain 404.
 */
export class MethodIndex {
  private readonly routes: { pattern: RegExp; methods: Set<string> }[] = [];
  private readonly byUrl = new Map<string, Set<string>>();

  add(methods: readonly string[], url: string): void {
    let known = this.byUrl.get(url);
    if (!known) {
      known = new Set();
      this.byUrl.set(url, known);
      this.routes.push({ pattern: patternFor(url), methods: known });
    }
    // OPTIONS answers CORS preflights on every path; it says nothing about what a path allows.
    for (const method of methods) if (method.toUpperCase() !== 'OPTIONS') known.add(method.toUpperCase());
  }

  allowedFor(path: string): string[] {
    const allowed = new Set<string>();
    for (const route of this.routes) {
      if (route.pattern.test(path)) for (const method of route.methods) allowed.add(method);
    }
    return [...allowed].sort();
  }
}

function patternFor(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => {
      if (segment === '*') return '.*';
      if (segment.startsWith(':')) return '[^/]+';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${source}/?$`);
}
