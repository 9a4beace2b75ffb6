import { Type, type Static } from '../vendor/typebox.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import type { App } from '../http/app-types.ts';
import { Id, PageOf, pageQueryFields, Text } from '../http/schema-types.ts';
import type { ImportSchemaDefinition } from '../processing/index.ts';
import type { ImportSchemaRow } from './import-schema.schema.ts';
import type { ImportSchemaService } from './import-schema.service.ts';

const ColumnTypeSchema = Type.Union(
  ['integer', 'decimal', 'boolean', 'date', 'datetime', 'text'].map((type) => Type.Literal(type)),
  { description: 'What the cells hold; dates are stored as ISO 8601.' },
);

const Bound = Type.Union([Type.Number(), Text({ maxLength: 40 })], {
  description: 'Numbers: the value; text: the length; dates: an ISO 8601 date.',
});

export const ImportSchemaColumn = Type.Object(
  {
    name: Text({ minLength: 1, maxLength: 200 }),
    type: ColumnTypeSchema,
    required: Type.Optional(Type.Boolean()),
    unique: Type.Optional(Type.Boolean({ description: 'No two rows of one file hold the same value.' })),
    enum: Type.Optional(
      Type.Array(Type.Union([Text({ maxLength: 200 }), Type.Number(), Type.Boolean()]), { minItems: 1, maxItems: 1000 }),
    ),
    pattern: Type.Optional(
      Text({ minLength: 1, maxLength: 500, description: 'A regular expression the whole cell text matches.' }),
    ),
    min: Type.Optional(Bound),
    max: Type.Optional(Bound),
    aliases: Type.Optional(
      Type.Array(Text({ minLength: 1, maxLength: 200 }), {
        maxItems: 50,
        description: 'Other header spellings, matched ignoring case, spaces and punctuation.',
      }),
    ),
    date_order: Type.Optional(Type.Union([Type.Literal('dmy'), Type.Literal('mdy'), Type.Literal('ymd')])),
    decimal: Type.Optional(Type.Union([Type.Literal('.'), Type.Literal(',')])),
  },
  { additionalProperties: false },
);

/** With defaults for a new schema; without for a change, where a field left out keeps its value. */
const definitionFields = (defaults: boolean) => ({
  columns: Type.Array(ImportSchemaColumn, { minItems: 1, maxItems: 1000 }),
  unknown_columns: Type.Union([Type.Literal('keep'), Type.Literal('refuse')], {
    ...(defaults ? { default: 'keep' } : {}),
    description: 'Columns the schema does not name: kept as they are, or the file is refused.',
  }),
  all_or_nothing: Type.Boolean({
    ...(defaults ? { default: false } : {}),
    description: 'One bad row fails the file and nothing is stored.',
  }),
});

const CreateBody = Type.Object(
  { name: Text({ minLength: 1, maxLength: 200 }), ...definitionFields(true) },
  { additionalProperties: false },
);
const PatchBody = Type.Partial(Type.Object({ name: Text({ minLength: 1, maxLength: 200 }), ...definitionFields(false) }), {
  additionalProperties: false,
});

export const ImportSchemaResponse = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    columns: Type.Array(ImportSchemaColumn),
    unknown_columns: Type.Union([Type.Literal('keep'), Type.Literal('refuse')]),
    all_or_nothing: Type.Boolean(),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { title: 'ImportSchema' },
);

function toResponse(row: ImportSchemaRow): Static<typeof ImportSchemaResponse> {
  return {
    id: row.id,
    name: row.name,
    columns: row.definition.columns as Static<typeof ImportSchemaColumn>[],
    unknown_columns: row.definition.unknown_columns,
    all_or_nothing: row.definition.all_or_nothing,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

const Params = Type.Object({ id: Id() });

export async function schemasRoutes(app: App, options: { schemas: ImportSchemaService }): Promise<void> {
  const { schemas } = options;
  const tags = ['schemas'];
  const security = AUTH_SECURITY;

  app.post(
    '/schemas',
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Creates an import schema: the columns a file should hold, their types and rules.',
        description: 'Use it with `?schema=<id>` on an upload or a re-run; every row is then validated against it.',
        body: CreateBody,
        response: { 201: ImportSchemaResponse },
      },
    },
    async (request, reply) => {
      const { name, ...definition } = request.body;
      const row = await schemas.create(requireUser(request).id, { name, definition: definition as ImportSchemaDefinition });
      return reply.code(201).send(toResponse(row));
    },
  );

  app.get(
    '/schemas',
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Your import schemas, newest first.',
        querystring: Type.Object({ ...pageQueryFields() }),
        response: { 200: PageOf(ImportSchemaResponse) },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const page = await schemas.list(requireUser(request).id, { limit, offset });
      return { items: page.items.map(toResponse), total: page.total, limit, offset };
    },
  );

  app.get(
    '/schemas/:id',
    {
      preHandler: app.authenticate,
      schema: { tags, security, summary: 'One of your import schemas.', params: Params, response: { 200: ImportSchemaResponse } },
    },
    async (request) => toResponse(await schemas.get(requireUser(request).id, request.params.id)),
  );

  app.patch(
    '/schemas/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Changes an import schema; fields left out keep their value.',
        params: Params,
        body: PatchBody,
        response: { 200: ImportSchemaResponse },
      },
    },
    async (request) => {
      const ownerId = requireUser(request).id;
      const { name, ...fields } = request.body;
      const current = await schemas.get(ownerId, request.params.id);
      const definition: ImportSchemaDefinition = {
        columns: (fields.columns ?? current.definition.columns) as ImportSchemaDefinition['columns'],
        unknown_columns: fields.unknown_columns ?? current.definition.unknown_columns,
        all_or_nothing: fields.all_or_nothing ?? current.definition.all_or_nothing,
      };
      return toResponse(
        await schemas.update(ownerId, request.params.id, { ...(name === undefined ? {} : { name }), definition }),
      );
    },
  );

  app.delete(
    '/schemas/:id',
    {
      preHandler: app.authenticate,
      schema: { tags, security, summary: 'Deletes one of your import schemas.', params: Params, response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      await schemas.delete(requireUser(request).id, request.params.id);
      return reply.code(204).send(null);
    },
  );
}

export const SchemaQueryField = Id({ description: 'An import schema of yours that every row is validated against.' });
