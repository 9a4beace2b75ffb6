import AjvCompiler from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type SchemaController = NonNullable<FastifyServerOptions['schemaController']>;

/** What Fastify does with a validator: calls it, then reads `errors` from it. */
interface Validate {
  (data: unknown): unknown;
  errors?: unknown;
}
type ValidatorFactory = (externalSchemas: unknown, options: unknown) => (route: unknown) => Validate;
type SerializerFactory = (externalSchemas: unknown, options: unknown) => (route: unknown) => (data: unknown) => string;

/**
 * Fastify's own compilers (Ajv for requests, fast-json-stringify for responses), each route's
 * code generated when the route is first called instead of when the app starts. Compiling every
 * schema of the ~120 routes took about a third of `intake serve`'s CPU before its first answer,
 * and the generated functions stayed in memory for routes a deployment never calls. A route pays
 * its compilation (a few milliseconds) once, on its first request.
 */
export function lazySchemaCompilers(): SchemaController {
  // The factories' published types are unions over Ajv's modes; only the call shapes matter here.
  const ajv = AjvCompiler() as unknown as ValidatorFactory;
  const serializers = SerializerSelector() as unknown as SerializerFactory;
  const buildValidator: ValidatorFactory = (externalSchemas, options) => {
    const compiler = ajv(externalSchemas, options);
    return (route) => {
      let compiled: Validate | undefined;
      // Fastify reads `errors` from the function it was given, after calling it.
      const validate: Validate = (data: unknown) => {
        compiled ??= compiler(route);
        const result = compiled(data);
        validate.errors = compiled.errors;
        return result;
      };
      return validate;
    };
  };
  const buildSerializer: SerializerFactory = (externalSchemas, options) => {
    const compiler = serializers(externalSchemas, options);
    return (route) => {
      let compiled: ((data: unknown) => string) | undefined;
      return (data: unknown) => (compiled ??= compiler(route))(data);
    };
  };
  return { compilersFactory: { buildValidator, buildSerializer } } as unknown as SchemaController;
}
