import { Type } from '../vendor/typebox.ts';

/** What a preview answers (`POST /files/{id}/preview` and `POST /files?dry_run=true`). */
export const ColumnProfileSchema = Type.Object({
  name: Type.String(),
  type: Type.String(),
  nullable: Type.Boolean(),
  examples: Type.Array(Type.String()),
  flags: Type.Array(Type.String()),
  mismatches: Type.Integer(),
});

export const RowProblemSchema = Type.Object({
  row: Type.Integer(),
  message: Type.String(),
  column: Type.Optional(Type.String()),
  code: Type.Optional(Type.String()),
  sheet: Type.Optional(Type.String()),
});

export const PreviewResponse = Type.Object(
  {
    encoding: Type.Union([Type.String(), Type.Null()]),
    dialect: Type.Union([Type.Object({ delimiter: Type.String(), quote: Type.String() }), Type.Null()]),
    sheets: Type.Array(Type.Object({ name: Type.String(), index: Type.Integer(), rows: Type.Integer() })),
    columns: Type.Array(ColumnProfileSchema),
    rows: Type.Array(Type.Object({ row: Type.Integer(), data: Type.Record(Type.String(), Type.Unknown()) })),
    problems: Type.Array(RowProblemSchema),
    partial: Type.Boolean({ description: 'Whether only the head of the file was read.' }),
  },
  { title: 'FilePreview' },
);
