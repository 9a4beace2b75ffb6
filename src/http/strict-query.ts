import type { onRouteHookHandler, preValidationAsyncHookHandler } from 'fastify';
import { ERRORS } from '../errors/catalog.ts';
import type { App } from './app-types.ts';
import { isSafeText } from './schema-types.ts';

interface QuerySchemaShape {
  properties?: Record<string, unknown>;
  patternProperties?: Record<string, unknown>;
}

/**
 * Refuses query parameters a route does not declare, with 422 naming them. Validation strips
 * unknown members (bodies may carry fields a newer client knows), so without this check
 * `GET /jobs?file_id=…` would quietly answer every job, as if the filter had been applied.
 * Routes hidden from the API description (the docs page's assets, signed blob links) are left
 * alone: they are not operations a client composes queries for.
 */
export function registerStrictQuery(app: App): void {
  const onRoute: onRouteHookHandler = (route) => {
    const schema = route.schema as { hide?: boolean; querystring?: unknown } | undefined;
    if (schema === undefined || schema.hide === true) return;
    const query = schema.querystring as QuerySchemaShape | undefined;
    // A querystring described by something other than one object schema is left to validation.
    if (
      query !== undefined &&
      (typeof query !== 'object' || query === null || (query.properties === undefined && query.patternProperties === undefined))
    )
      return;
    const known = new Set(Object.keys(query?.properties ?? {}));
    const patterns = Object.keys(query?.patternProperties ?? {}).map((pattern) => new RegExp(pattern, 'u'));
    const refuseUnknown: preValidationAsyncHookHandler = async (request) => {
      const unknown = Object.keys(request.query as object).filter(
        (name) => !known.has(name) && !patterns.some((pattern) => pattern.test(name)),
      );
      if (unknown.length > 0) throw ERRORS.unknownParameters(...unknown.slice(0, 10).map(printable));
    };
    const existing = route.preValidation;
    route.preValidation =
      existing === undefined ? [refuseUnknown] : [refuseUnknown, ...(Array.isArray(existing) ? existing : [existing])];
  };
  app.addHook('onRoute', onRoute);
}

/** A parameter name as it may appear in a problem: bounded, without control characters. */
function printable(name: string): string {
  const clean = [...name].map((character) => (isSafeText(character) ? character : '?')).join('');
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}
