import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem } from '../api/client';
import type { paths } from '../api/schema';
import { ErrorMessage, Section } from '../components/common';
import { formatCell } from '../format';

type RecordsPage = paths['/api/v1/files/{id}/records']['get']['responses'][200]['content']['application/json'];
type RecordsQuery = NonNullable<paths['/api/v1/files/{id}/records']['get']['parameters']['query']>;

const PAGE_SIZES = [25, 100, 1000];

/**
 * The API pages records with an opaque forward cursor; "Previous" walks back through the cursors
 * this table has already followed.
 */
export function RecordsTable({ fileId, columns: declared }: { fileId: string; columns: string[] }) {
  const [limit, setLimit] = useState(25);
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<RecordsPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filterColumn, setFilterColumn] = useState('');
  const [filterValue, setFilterValue] = useState('');
  const [appliedFilter, setAppliedFilter] = useState<{ column: string; value: string } | null>(null);
  const [sort, setSort] = useState('');
  const [order, setOrder] = useState<'asc' | 'desc'>('asc');
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    let current = true;
    void (async () => {
      const query: RecordsQuery = { limit, order };
      if (cursor) query.cursor = cursor;
      if (sort) query.sort = sort;
      const {
        data,
        error: problem,
        response,
      } = await api.GET('/api/v1/files/{id}/records', {
        params: { path: { id: fileId }, query },
        // `filter[<column>]=<value>` names any column, which a fixed schema cannot list.
        querySerializer: (values) => {
          const search = new URLSearchParams();
          for (const [key, value] of Object.entries(values)) if (value !== undefined) search.set(key, String(value));
          if (appliedFilter) search.set(`filter[${appliedFilter.column}]`, appliedFilter.value);
          return search.toString();
        },
      });
      if (!current) return;
      if (data) {
        setPage(data);
        setError(null);
      } else setError(describeProblem(problem, response));
    })();
    return () => {
      current = false;
    };
  }, [fileId, limit, cursor, sort, order, appliedFilter]);

  const restart = () => setCursors([undefined]);
  const items = page?.items ?? [];
  const columns = declared.length > 0 ? declared : [...new Set(items.flatMap((item) => Object.keys(item.data)))];
  const firstRow = cursors.length === 1 ? 1 : undefined;

  return (
    <Section title="Records">
      <div class="downloads">
        <a class="button" href={`/api/v1/files/${fileId}/records.csv`} download>
          Download CSV
        </a>
        <a class="button" href={`/api/v1/files/${fileId}/records.ndjson`} download>
          Download NDJSON
        </a>
      </div>
      <form
        class="filters"
        aria-label="Filter and sort records"
        onSubmit={(event) => {
          event.preventDefault();
          setAppliedFilter(filterColumn && filterValue !== '' ? { column: filterColumn, value: filterValue } : null);
          restart();
        }}
      >
        <div class="field">
          <label for="records-filter-column">Column</label>
          <select
            id="records-filter-column"
            value={filterColumn}
            onChange={(event) => setFilterColumn(event.currentTarget.value)}
          >
            <option value="">Choose a column</option>
            {columns.map((column) => (
              <option key={column} value={column}>
                {column}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="records-filter-value">Equals</label>
          <input id="records-filter-value" value={filterValue} onInput={(event) => setFilterValue(event.currentTarget.value)} />
        </div>
        <div class="field buttons">
          <button type="submit">Filter</button>
          {appliedFilter ? (
            <button
              type="button"
              onClick={() => {
                setAppliedFilter(null);
                setFilterValue('');
                restart();
              }}
            >
              Clear filter
            </button>
          ) : null}
        </div>
        <div class="field">
          <label for="records-sort">Sort by</label>
          <select
            id="records-sort"
            value={sort}
            onChange={(event) => {
              setSort(event.currentTarget.value);
              restart();
            }}
          >
            <option value="">Row order</option>
            {columns.map((column) => (
              <option key={column} value={column}>
                {column}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="records-order">Order</label>
          <select
            id="records-order"
            value={order}
            onChange={(event) => {
              setOrder(event.currentTarget.value as 'asc' | 'desc');
              restart();
            }}
          >
            <option value="asc">Ascending</option>
            <option value="desc">Descending</option>
          </select>
        </div>
        <div class="field">
          <label for="records-limit">Rows per page</label>
          <select
            id="records-limit"
            value={String(limit)}
            onChange={(event) => {
              setLimit(Number(event.currentTarget.value));
              restart();
            }}
          >
            {PAGE_SIZES.map((size) => (
              <option key={size} value={String(size)}>
                {size}
              </option>
            ))}
          </select>
        </div>
      </form>
      <ErrorMessage message={error} />
      <div class="table-scroll records-scroll" tabIndex={0} role="region" aria-label="Records table">
        <table class="records">
          <caption class="visually-hidden">
            Records{appliedFilter ? `, where ${appliedFilter.column} equals ${appliedFilter.value}` : ''}
          </caption>
          <thead>
            <tr>
              <th scope="col">Row</th>
              {columns.map((column) => (
                <th scope="col" key={column}>
                  {column}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {items.map((item) => (
              <tr key={item.row}>
                <th scope="row" class="number">
                  {item.row}
                </th>
                {columns.map((column) => (
                  <td key={column}>{formatCell(item.data[column])}</td>
                ))}
              </tr>
            ))}
            {page && items.length === 0 ? (
              <tr>
                <td colSpan={columns.length + 1} class="empty">
                  No records{appliedFilter ? ' match this filter' : ''}.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Pages of records">
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous
        </button>
        <span>
          Page {cursors.length}
          {firstRow && items.length ? `, rows shown: ${items.length}` : ''}
        </span>
        <button
          type="button"
          disabled={!page?.next_cursor}
          onClick={() => page?.next_cursor && setCursors([...cursors, page.next_cursor])}
        >
          Next
        </button>
      </nav>
    </Section>
  );
}
