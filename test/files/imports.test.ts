import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobQueue } from '../../src/jobs/job-queue-factory.ts';
import type { JobQueue } from '../../src/jobs/job-queue.ts';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { eventually, silentLog } from '../jobs/queue-harness.ts';
import { createBlobStore } from '../../src/storage/create-blob-store.ts';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { multipartBody, PNG_SIGNATURE, type PartSpec } from './multipart.ts';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** Real files from real exports, through upload → worker → records, checked record by record. */
describe('imports', () => {
  let subject: TestApp;
  let queue: JobQueue;
  let runtime: WorkerRuntime;
  let alice: TestUser;
  let bob: TestUser;
  let blobs: BlobStore;

  beforeAll(async () => {
    subject = await createTestApp({ env: { JOBS_POLL_INTERVAL_MS: '50' } });
    queue = await createJobQueue(subject.config.jobs, subject.database, silentLog);
    runtime = await buildWorker(subject.config, { database: subject.database, jobQueue: queue, log: silentLog });
    alice = await subject.createUser();
    bob = await subject.createUser();
    blobs = await createBlobStore(subject.config.storage);
  });

  afterAll(async () => {
    await blobs?.close();
    await runtime?.close(0);
    await queue?.close();
    await subject?.close();
  });

  async function upload(part: PartSpec | PartSpec[], query = '', user = alice) {
    const { body, contentType } = multipartBody(Array.isArray(part) ? part : [part]);
    const response = await subject.app.inject({
      method: 'POST',
      url: `/api/v1/files${query}`,
      headers: { ...user.bearer, 'content-type': contentType },
      payload: body,
    });
    return response;
  }

  async function finished(jobId: string, user = alice) {
    return eventually(async () => {
      const job = (await subject.app.inject({ method: 'GET', url: `/api/v1/jobs/${jobId}`, headers: user.bearer })).json();
      return ['succeeded', 'failed', 'timed_out', 'cancelled'].includes(job.status) ? job : undefined;
    }, 60_000);
  }

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, user = alice) =>
    subject.app.inject({ method, url, headers: user.bearer, ...(payload === undefined ? {} : { payload: payload as object }) });

  async function imported(part: PartSpec, query = '') {
    const response = await upload(part, query);
    expect(response.statusCode, response.body).toBe(201);
    const file = response.json().items[0];
    const job = await finished(file.job_id);
    const meta = (await call('GET', `/api/v1/files/${file.id}`)).json();
    const records = (await call('GET', `/api/v1/files/${file.id}/records?limit=1000`)).json().items;
    return { file, job, meta, records };
  }

  it('imports a Windows-1252 CSV with accents and records its encoding', async () => {
    const csv = iconv.encode('Nom;Ville;Solde\r\nJosé;Zürich;1.234,50\r\nFrançoise;Kraków;-7,25\r\n', 'windows-1252');
    const { job, meta, records } = await imported({ filename: 'ansi.csv', contentType: 'text/csv', content: csv });
    expect(job.status).toBe('succeeded');
    expect(meta.metadata).toMatchObject({ encoding: 'windows-1252', dialect: { delimiter: ';' } });
    expect(records).toEqual([
      { row: 1, data: { Nom: 'José', Ville: 'Zürich', Solde: 1234.5 } },
      { row: 2, data: { Nom: 'Françoise', Ville: 'Kraków', Solde: -7.25 } },
    ]);
  });

  it('imports "Unicode text" (UTF-16 LE, tabs) and a ; file with decimal commas and day-first dates, listing typed columns', async () => {
    const text = 'Produit\tPrix\tLivraison\r\nChaise\t12,50\t31/01/2025\r\nTable\t99\t02/03/2025\r\n';
    const content = Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(text, 'utf-16le')]);
    const { meta, records } = await imported({ filename: 'unicode.txt.csv', contentType: 'text/csv', content });
    expect(meta.metadata.encoding).toBe('utf-16le');
    expect(records).toEqual([
      { row: 1, data: { Produit: 'Chaise', Prix: 12.5, Livraison: '2025-01-31' } },
      { row: 2, data: { Produit: 'Table', Prix: 99, Livraison: '2025-03-02' } },
    ]);
    expect(meta.metadata.column_types).toEqual([
      { name: 'Produit', type: 'text', nullable: false, examples: ['Chaise', 'Table'], flags: [], mismatches: 0 },
      { name: 'Prix', type: 'decimal', nullable: false, examples: ['12,50', '99'], flags: ['decimal_comma'], mismatches: 0 },
      {
        name: 'Livraison',
        type: 'date',
        nullable: false,
        examples: ['31/01/2025', '02/03/2025'],
        flags: ['day_first'],
        mismatches: 0,
      },
    ]);
  });

  it('flags an ambiguous date column in the metadata', async () => {
    const { meta, records } = await imported({
      filename: 'd.csv',
      contentType: 'text/csv',
      content: 'when,n\n01/02/2024,1\n03/04/2024,2\n',
    });
    expect(records.map((record: { data: { when: string } }) => record.data.when)).toEqual(['2024-01-02', '2024-03-04']);
    expect(meta.metadata.column_types[0]).toMatchObject({ name: 'when', type: 'date', flags: ['ambiguous'] });
  });

  it('validates every row against a schema with aliases, required, unique and enum rules, and serves the rejected rows to correct', async () => {
    const created = await call('POST', '/api/v1/schemas', {
      name: 'contacts',
      columns: [
        {
          name: 'email',
          type: 'text',
          required: true,
          unique: true,
          aliases: ['E-mail', 'Courriel'],
          pattern: '[^@\\s]+@[^@\\s]+',
        },
        { name: 'plan', type: 'text', enum: ['free', 'pro'] },
        { name: 'seats', type: 'integer', min: 1, max: 100 },
      ],
    });
    expect(created.statusCode, created.body).toBe(201);
    const schema = created.json();
    expect(schema).toMatchObject({ unknown_columns: 'keep', all_or_nothing: false });
    expect((await call('GET', `/api/v1/schemas/${schema.id}`, undefined, bob)).statusCode).toBe(404);
    expect(
      (await upload({ filename: 'x.csv', contentType: 'text/csv', content: 'a\n1\n' }, `?schema=${schema.id}`, bob)).statusCode,
    ).toBe(404);

    const csv = [
      'E-MAIL ,Plan,Seats,Note',
      'ann@example.com,pro,3,first',
      ',free,1,no email',
      'bob@example.com,gold,2,bad plan',
      'ANN@example.com,free,1,other case',
      'ann@example.com,free,1,duplicate',
      'cy@example.com,free,many,not a number',
      'dee@example.com,pro,500,too many',
    ].join('\n');
    const { job, meta, records, file } = await imported(
      { filename: 'contacts.csv', contentType: 'text/csv', content: csv },
      `?schema=${schema.id}`,
    );
    expect(job.status).toBe('succeeded');
    expect(records).toEqual([
      { row: 1, data: { email: 'ann@example.com', plan: 'pro', seats: 3, Note: 'first' } },
      { row: 4, data: { email: 'ANN@example.com', plan: 'free', seats: 1, Note: 'other case' } },
    ]);
    expect(meta.metadata).toMatchObject({
      rows: 2,
      rejected_rows: 5,
      columns: ['email', 'plan', 'seats', 'Note'],
      schema_id: schema.id,
    });
    expect(job.result.problems).toEqual([
      { row: 2, column: 'email', code: 'required', message: 'email is required.' },
      { row: 3, column: 'plan', code: 'enum', message: '"gold" is not one of "free", "pro".' },
      { row: 5, column: 'email', code: 'unique', message: '"ann@example.com" appears in an earlier row.' },
      { row: 6, column: 'seats', code: 'type', message: '"many" is not a valid integer.' },
      { row: 7, column: 'seats', code: 'max', message: 'The value is above the maximum 100.' },
    ]);

    const problems = await call('GET', `/api/v1/files/${file.id}/problems.csv`);
    expect(problems.statusCode).toBe(200);
    expect(problems.headers['content-type']).toMatch(/^text\/csv/);
    expect(problems.body).toBe(
      '\uFEFFE-MAIL,Plan,Seats,Note,_row,_problems\r\n' +
        ',free,1,no email,2,email: email is required.\r\n' +
        'bob@example.com,gold,2,bad plan,3,"plan: ""gold"" is not one of ""free"", ""pro""."\r\n' +
        'ann@example.com,free,1,duplicate,5,"email: ""ann@example.com"" appears in an earlier row."\r\n' +
        'cy@example.com,free,many,not a number,6,"seats: ""many"" is not a valid integer."\r\n' +
        'dee@example.com,pro,500,too many,7,seats: The value is above the maximum 100.\r\n',
    );
    expect((await call('GET', `/api/v1/files/${file.id}/problems.csv`, undefined, bob)).statusCode).toBe(404);

    // All or nothing: the same file stores no row at all.
    expect((await call('PATCH', `/api/v1/schemas/${schema.id}`, { all_or_nothing: true })).json()).toMatchObject({
      all_or_nothing: true,
      name: 'contacts',
    });
    const rerun = await call('POST', `/api/v1/files/${file.id}/process?schema=${schema.id}`);
    expect(rerun.statusCode).toBe(202);
    const failed = await finished(rerun.json().job_id);
    expect(failed.status).toBe('failed');
    expect((await call('GET', `/api/v1/files/${file.id}`)).json().status).toBe('failed');

    const suggestion = await call('POST', `/api/v1/files/${file.id}/schema-suggestion`);
    expect(suggestion.statusCode, suggestion.body).toBe(200);
    expect(suggestion.json().columns).toEqual([
      // A row with an empty e-mail was seen, so the suggestion leaves it optional.
      { name: 'email', type: 'text', required: false },
      { name: 'plan', type: 'text', required: true },
      { name: 'seats', type: 'integer', required: true },
      { name: 'Note', type: 'text', required: true },
    ]);
    expect((await call('DELETE', `/api/v1/schemas/${schema.id}`, undefined, bob)).statusCode).toBe(404);
    expect((await call('DELETE', `/api/v1/schemas/${schema.id}`)).statusCode).toBe(204);
  });

  it('refuses a file with a column the schema does not name when unknown columns are refused', async () => {
    const schema = (
      await call('POST', '/api/v1/schemas', {
        name: 'strict',
        columns: [{ name: 'id', type: 'integer' }],
        unknown_columns: 'refuse',
      })
    ).json();
    const { job } = await imported(
      { filename: 's.csv', contentType: 'text/csv', content: 'ID,extra\n1,x\n' },
      `?schema=${schema.id}`,
    );
    expect(job.status).toBe('failed');
    expect(job.error.message).toContain('"extra"');
  });

  it('reads every sheet of a workbook with dates, shared and inline strings, and lists the sheets', async () => {
    const workbook = new ExcelJS.Workbook();
    const orders = workbook.addWorksheet('Orders');
    orders.addRow(['id', 'placed', 'customer']);
    orders.addRow([1, new Date(Date.UTC(2024, 2, 15)), 'Ann']);
    orders.addRow([2, new Date(Date.UTC(2024, 11, 31)), 'Bob']);
    orders.mergeCells('C4:D4');
    orders.getCell('A4').value = 3;
    orders.getCell('C4').value = 'Merged';
    const people = workbook.addWorksheet('People');
    people.addRow(['name', 'joined']);
    people.addRow(['Cy', '05/01/2023']);
    const content = Buffer.from(await workbook.xlsx.writeBuffer());
    const { meta, records } = await imported({ filename: 'book.xlsx', contentType: XLSX, content });
    expect(records).toEqual([
      { row: 1, sheet: 'Orders', sheet_row: 1, data: { id: 1, placed: '2024-03-15', customer: 'Ann' } },
      { row: 2, sheet: 'Orders', sheet_row: 2, data: { id: 2, placed: '2024-12-31', customer: 'Bob' } },
      { row: 3, sheet: 'Orders', sheet_row: 3, data: { id: 3, placed: null, customer: 'Merged' } },
      { row: 1_048_576 + 1, sheet: 'People', sheet_row: 1, data: { name: 'Cy', joined: '2023-05-01' } },
    ]);
    expect(meta.metadata.sheets).toMatchObject([
      { name: 'Orders', index: 0, rows: 3, columns: ['id', 'placed', 'customer'] },
      { name: 'People', index: 1, rows: 1, columns: ['name', 'joined'] },
    ]);

    const only = await imported({ filename: 'book.xlsx', contentType: XLSX, content }, '?sheets=People&allow_duplicate=true');
    expect(only.records).toEqual([
      { row: 1_048_576 + 1, sheet: 'People', sheet_row: 1, data: { name: 'Cy', joined: '2023-05-01' } },
    ]);
  });

  it('gives each workbook record its sheet and row in it, and filters and exports by sheet', async () => {
    const workbook = new ExcelJS.Workbook();
    const orders = workbook.addWorksheet('Orders');
    orders.addRow(['id', 'placed']);
    orders.addRow([1, new Date(Date.UTC(2024, 2, 15))]);
    orders.addRow([2, new Date(Date.UTC(2024, 11, 31))]);
    const people = workbook.addWorksheet('People, etc.');
    people.addRow(['name', 'id']);
    people.addRow(['Cy', 2]);
    const content = Buffer.from(await workbook.xlsx.writeBuffer());
    const { file, records } = await imported({ filename: 'sheets.xlsx', contentType: XLSX, content }, '?allow_duplicate=true');
    expect(records).toEqual([
      { row: 1, sheet: 'Orders', sheet_row: 1, data: { id: 1, placed: '2024-03-15' } },
      { row: 2, sheet: 'Orders', sheet_row: 2, data: { id: 2, placed: '2024-12-31' } },
      { row: 1_048_577, sheet: 'People, etc.', sheet_row: 1, data: { name: 'Cy', id: 2 } },
    ]);
    const people_ = encodeURIComponent('People, etc.');
    const bySheet = await call('GET', `/api/v1/files/${file.id}/records?sheet=${people_}`);
    expect(bySheet.json().items).toEqual([records[2]]);
    // With a field filter too: the sheet narrows it to one of the two rows with id 2.
    const filtered = await call('GET', `/api/v1/files/${file.id}/records?sheet=Orders&filter%5Bid%5D=2`);
    expect(filtered.json().items).toEqual([records[1]]);
    expect((await call('GET', `/api/v1/files/${file.id}/records?sheet=Nope`)).statusCode).toBe(400);

    const csv = await call('GET', `/api/v1/files/${file.id}/records.csv?sheet=Orders`);
    expect(csv.body).toBe('row,sheet,sheet_row,id,placed\r\n1,Orders,1,1,2024-03-15\r\n2,Orders,2,2,2024-12-31\r\n');
    const all = await call('GET', `/api/v1/files/${file.id}/records/export?format=csv`);
    expect(all.body).toBe(
      'row,sheet,sheet_row,id,placed,name\r\n' +
        '1,Orders,1,1,2024-03-15,\r\n2,Orders,2,2,2024-12-31,\r\n1048577,"People, etc.",1,2,,Cy\r\n',
    );
    const ndjson = await call('GET', `/api/v1/files/${file.id}/records.ndjson?sheet=${people_}`);
    expect(
      ndjson.body
        .trim()
        .split('\n')
        .map((line: string) => JSON.parse(line)),
    ).toEqual([{ row: 1_048_577, sheet: 'People, etc.', sheet_row: 1, name: 'Cy', id: 2 }]);
    expect((await call('GET', `/api/v1/files/${file.id}/records.ndjson?sheet=Orders`, undefined, bob)).statusCode).toBe(404);
  });

  it('previews the head of a file without storing records', async () => {
    const lines = ['id;amount;journée'];
    for (let index = 1; index <= 20_000; index += 1) lines.push(`${index};${index},5;${(index % 28) + 1}/02/2024`);
    const content = iconv.encode(lines.join('\r\n'), 'windows-1252');
    const response = await upload({ filename: 'big.csv', contentType: 'text/csv', content }, '?process=false');
    const file = response.json().items[0];
    const preview = await call('POST', `/api/v1/files/${file.id}/preview?rows=3`);
    expect(preview.statusCode, preview.body).toBe(200);
    expect(preview.json()).toMatchObject({
      encoding: 'windows-1252',
      dialect: { delimiter: ';' },
      partial: true,
      rows: [
        { row: 1, data: { id: 1, amount: 1.5, journée: '2024-02-02' } },
        { row: 2, data: { id: 2, amount: 2.5, journée: '2024-02-03' } },
        { row: 3, data: { id: 3, amount: 3.5, journée: '2024-02-04' } },
      ],
      problems: [],
    });
    expect(preview.json().columns.map((column: { type: string }) => column.type)).toEqual(['integer', 'decimal', 'date']);
    expect((await call('GET', `/api/v1/files/${file.id}/records`)).json().items).toEqual([]);
    expect((await call('POST', `/api/v1/files/${file.id}/preview`, undefined, bob)).statusCode).toBe(404);
  });

  it('answers ?dry_run=true with the preview the stored file would get, and stores no file, blob, job or quota', async () => {
    const carol = await subject.createUser();
    const lines = ['Réf;Montant;Échéance'];
    for (let index = 1; index <= 30; index += 1) lines.push(`A${index};${index},25;${(index % 28) + 1}/03/2024`);
    const part = {
      filename: 'échéances.csv',
      contentType: 'text/csv',
      content: iconv.encode(lines.join('\r\n'), 'windows-1252'),
    };

    const dry = await upload(part, '?dry_run=true&preview_rows=5', carol);
    expect(dry.statusCode, dry.body).toBe(200);
    expect(dry.json()).toMatchObject({
      encoding: 'windows-1252',
      dialect: { delimiter: ';', quote: '"' },
      sheets: [],
      partial: true,
      problems: [],
      rows: [
        { row: 1, data: { Réf: 'A1', Montant: 1.25, Échéance: '2024-03-02' } },
        { row: 2, data: { Réf: 'A2', Montant: 2.25, Échéance: '2024-03-03' } },
        { row: 3, data: { Réf: 'A3', Montant: 3.25, Échéance: '2024-03-04' } },
        { row: 4, data: { Réf: 'A4', Montant: 4.25, Échéance: '2024-03-05' } },
        { row: 5, data: { Réf: 'A5', Montant: 5.25, Échéance: '2024-03-06' } },
      ],
    });
    expect(dry.json().columns.map((column: { name: string; type: string }) => [column.name, column.type])).toEqual([
      ['Réf', 'text'],
      ['Montant', 'decimal'],
      ['Échéance', 'date'],
    ]);

    // The same bytes stored, then previewed: the same answer, whole file read in both cases.
    const stored = (await upload(part, '?process=false&allow_duplicate=true')).json().items[0];
    const whole = await call('POST', `/api/v1/files/${stored.id}/preview?rows=50`);
    const dryWhole = await upload(part, '?dry_run=true&preview_rows=50', carol);
    expect(dryWhole.json()).toEqual(whole.json());
    expect(dryWhole.json()).toMatchObject({ partial: false });
    expect(dryWhole.json().rows).toHaveLength(30);

    // With a schema: rows are mapped and checked, problems named; someone else's schema is a 404.
    const schema = (
      await call(
        'POST',
        '/api/v1/schemas',
        { name: 'dues', columns: [{ name: 'amount', type: 'decimal', aliases: ['Montant'], max: 2 }] },
        carol,
      )
    ).json();
    const checked = await upload(part, `?dry_run=true&preview_rows=3&schema=${schema.id}`, carol);
    expect(checked.statusCode, checked.body).toBe(200);
    expect(checked.json().rows).toEqual([{ row: 1, data: { Réf: 'A1', amount: 1.25, Échéance: '2024-03-02' } }]);
    // Only row 1 passes, so the preview reads on to the end looking for more.
    expect(checked.json().problems).toHaveLength(29);
    expect(checked.json().problems[0]).toEqual({
      row: 2,
      column: 'amount',
      code: 'max',
      message: 'The value is above the maximum 2.',
    });
    expect((await upload(part, `?dry_run=true&schema=${schema.id}`, bob)).statusCode).toBe(404);

    // Refused as a real upload would be, or as a preview would be.
    expect((await upload({ ...part, content: PNG_SIGNATURE }, '?dry_run=true', carol)).statusCode).toBe(415);
    expect((await upload([part, part], '?dry_run=true', carol)).statusCode).toBe(400);
    const unknown = await upload(part, '?dry_run=true&encoding=klingon', carol);
    expect(unknown.statusCode, unknown.body).toBe(422);
    expect(unknown.json()).toMatchObject({ code: 'file_unreadable', reason: 'encoding_unsupported' });

    // Nothing of carol's exists anywhere.
    expect((await call('GET', '/api/v1/files', undefined, carol)).json().total).toBe(0);
    expect((await call('GET', '/api/v1/jobs', undefined, carol)).json().items).toEqual([]);
    const keys: string[] = [];
    for await (const blob of blobs.list(`files/${carol.id}/`)) keys.push(blob.key);
    expect(keys).toEqual([]);
    expect((await call('GET', '/api/v1/users/me', undefined, carol)).json().quota.usage).toEqual({ bytes: 0, files: 0 });
  });
});
