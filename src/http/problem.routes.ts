import { Type } from '../vendor/typebox.ts';
import { Text } from './schema-types.ts';
import { ERRORS, ERROR_CODES } from '../errors/catalog.ts';
import type { App } from './app-types.ts';

const ProblemType = Type.Object({ code: Type.String(), status: Type.Integer(), description: Type.String() });

/** Makes every problem `type` (`/problems/<code>`) resolve to a description of that code. */
export async function problemRoutes(app: App): Promise<void> {
  app.get(
    '/problems/:code',
    {
      schema: {
        tags: ['service'],
        summary: 'Describes an error code used in problem details.',
        params: Type.Object({ code: Text({ maxLength: 64 }) }),
        response: { 200: ProblemType },
      },
    },
    async (request) => {
      const entry = Object.hasOwn(ERROR_CODES, request.params.code) ? ERROR_CODES[request.params.code] : undefined;
      if (!entry) throw ERRORS.notFound(`No error code ${request.params.code}.`);
      return { code: request.params.code, ...entry };
    },
  );
}
