import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem } from '../api/client';
import type { paths } from '../api/schema';
import { ErrorMessage, Section } from './common';

type Preview = paths['/api/v1/files/{id}/preview']['post']['responses'][200]['content']['application/json'];
type Schema = paths['/api/v1/schemas']['get']['responses'][200]['content']['application/json']['items'][number];

interface ColumnProfile {
  name: string;
  type: string;
  nullable: boolean;
  flags: string[];
  mismatches: number;
}

/** Chooses the import schema uploads are checked against (none: types are inferred). */
export function SchemaSelect({ value, onChange }: { value: string; onChange: (schemaId: string) => void }) {
  const [schemas, setSchemas] = useState<Schema[]>([]);
  useEffect(() => {
    void api.GET('/api/v1/schemas', { params: { query: { limit: 100, offset: 0 } } }).then(({ data }) => {
      if (data) setSchemas(data.items);
    });
  }, []);
  return (
    <div class="field">
      <label for="upload-schema">Import schema</label>
      <select id="upload-schema" value={value} onChange={(event) => onChange(event.currentTarget.value)}>
        <option value="">None (infer the columns)</option>
        {schemas.map((schema) => (
          <option key={schema.id} value={schema.id}>
            {schema.name}
          </option>
        ))}
      </select>
    </div>
  );
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** How a tabular file was read: encoding, columns with their types, a preview, and the correction file. */
export function ImportDetails({ fileId, metadata }: { fileId: string; metadata: Record<string, unknown> }) {
  const [preview, setPreview] = useState<Preview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const profiles = Array.isArray(metadata.column_types) ? (metadata.column_types as ColumnProfile[]) : [];
  const dialect = metadata.dialect as { delimiter?: string } | undefined;
  const rejected = typeof metadata.rejected_rows === 'number' ? metadata.rejected_rows : 0;

  async function loadPreview(): Promise<void> {
    const {
      data,
      error: problem,
      response,
    } = await api.POST('/api/v1/files/{id}/preview', {
      params: { path: { id: fileId }, query: { rows: 20 } },
    });
    if (data) {
      setPreview(data);
      setError(null);
    } else setError(describeProblem(problem, response));
  }

  return (
    <Section title="Import">
      <dl class="details">
        {typeof metadata.encoding === 'string' ? (
          <>
            <dt>Encoding</dt>
            <dd>{metadata.encoding}</dd>
          </>
        ) : null}
        {dialect?.delimiter ? (
          <>
            <dt>Delimiter</dt>
            <dd class="mono">{dialect.delimiter === '\t' ? 'tab' : dialect.delimiter}</dd>
          </>
        ) : null}
      </dl>
      {profiles.length > 0 ? (
        <div class="table-scroll">
          <table aria-label="Inferred types">
            <thead>
              <tr>
                <th scope="col">Column</th>
                <th scope="col">Type</th>
                <th scope="col">Empty cells</th>
                <th scope="col">Flags</th>
              </tr>
            </thead>
            <tbody>
              {profiles.map((profile) => (
                <tr key={profile.name}>
                  <td>{profile.name}</td>
                  <td>{profile.type}</td>
                  <td>{profile.nullable ? 'yes' : 'no'}</td>
                  <td>
                    {[...profile.flags, ...(profile.mismatches > 0 ? [`${profile.mismatches} mismatches`] : [])].join(', ')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {rejected > 0 ? (
        <p>
          <a href={`/api/v1/files/${fileId}/problems.csv`} download>
            Download the correction file (problems.csv, {rejected} rejected rows)
          </a>
        </p>
      ) : null}
      <div class="actions">
        <button type="button" onClick={() => void loadPreview()}>
          Preview the first rows
        </button>
      </div>
      <ErrorMessage message={error} />
      {preview ? (
        <div class="table-scroll">
          <table aria-label="Preview">
            <thead>
              <tr>
                <th scope="col">Row</th>
                {preview.columns.map((column) => (
                  <th scope="col" key={column.name}>
                    {column.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {preview.rows.map((row) => (
                <tr key={row.row}>
                  <td class="number">{row.row}</td>
                  {preview.columns.map((column) => (
                    <td key={column.name}>{cell(row.data[column.name])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Section>
  );
}
