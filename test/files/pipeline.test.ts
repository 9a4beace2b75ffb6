import ExcelJS from 'exceljs';
import { PDFDocument } from 'pdf-lib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobQueue } from '../../src/jobs/job-queue-factory.ts';
import type { JobQueue } from '../../src/jobs/job-queue.ts';
import { buildWorker, type WorkerRuntime } from '../../src/worker.ts';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { eventually, silentLog } from '../jobs/queue-harness.ts';
import { multipartBody, uploadOne, type PartSpec } from './multipart.ts';

/**
 * Upload → job → results, end to end, with a real worker on the same database (and, when
 * REDIS_URL is set, BullMQ on Redis), the way `intake worker` runs beside `intake serve`.
 */
describe('processing pipeline', () => {
  let subject: TestApp;
  let queue: JobQueue;
  let runtime: WorkerRuntime;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    subject = await createTestApp({ env: { JOBS_POLL_INTERVAL_MS: '50' } });
    queue = await createJobQueue(subject.config.jobs, subject.database, silentLog);
    runtime = await buildWorker(subject.config, { database: subject.database, jobQueue: queue, log: silentLog });
    alice = await subject.createUser();
    bob = await subject.createUser();
  });

  afterAll(async () => {
    await runtime?.close(0);
    await queue?.close();
    await subject?.close();
  });

  const upload = (part: PartSpec, user = alice) => uploadOne(subject.app, user, part);

  async function finished(jobId: string, user = alice) {
    return eventually(async () => {
      const job = (await subject.app.inject({ method: 'GET', url: `/api/v1/jobs/${jobId}`, headers: user.bearer })).json();
      return ['succeeded', 'failed', 'timed_out', 'cancelled'].includes(job.status) ? job : undefined;
    }, 60_000);
  }

  async function get(url: string, user = alice) {
    return subject.app.inject({ method: 'GET', url, headers: user.bearer });
  }

  it('turns a CSV into records, keeps good rows beside bad ones, and exports them', async () => {
    const csv = 'name;city;score\nAda;London;10\nGrace;New York;20\nbroken;row\n=HYPERLINK("x");Paris;30\n';
    const file = await upload({ filename: 'people.csv', contentType: 'text/csv', content: csv });
    expect(file.job_id).toEqual(expect.any(String));
    const job = await finished(file.job_id);
    expect(job).toMatchObject({ status: 'succeeded', file_id: file.id, progress: { percent: 100 } });
    expect(job.result).toMatchObject({ kind: 'tabular', rows: 3, problem_count: 1, columns: ['name', 'city', 'score'] });
    expect(job.result.problems[0]).toMatchObject({ row: 3 });

    const meta = (await get(`/api/v1/files/${file.id}`)).json();
    expect(meta).toMatchObject({ status: 'processed', metadata: { rows: 3, problem_count: 1 } });

    const page = (await get(`/api/v1/files/${file.id}/records?limit=2`)).json();
    expect(page.items).toEqual([
      { row: 1, data: { name: 'Ada', city: 'London', score: 10 } },
      { row: 2, data: { name: 'Grace', city: 'New York', score: 20 } },
    ]);
    const rest = (await get(`/api/v1/files/${file.id}/records?limit=2&cursor=${page.next_cursor}`)).json();
    expect(rest.items.map((item: { row: number }) => item.row)).toEqual([4]);
    expect(rest.next_cursor).toBeNull();

    const filtered = (await get(`/api/v1/files/${file.id}/records?filter[city]=New%20York`)).json();
    expect(filtered.items.map((item: { row: number }) => item.row)).toEqual([2]);
    const sorted = (await get(`/api/v1/files/${file.id}/records?sort=name&order=desc&limit=1`)).json();
    expect(sorted.items[0].data.name).toBe('Grace');
    const next = (await get(`/api/v1/files/${file.id}/records?sort=name&order=desc&limit=1&cursor=${sorted.next_cursor}`)).json();
    expect(next.items[0].data.name).toBe('Ada');

    const exported = await get(`/api/v1/files/${file.id}/records.csv`);
    expect(exported.headers['content-type']).toMatch(/^text\/csv/);
    expect(exported.body).toBe(
      'row,name,city,score\r\n1,Ada,London,10\r\n2,Grace,New York,20\r\n4,"\'=HYPERLINK(""x"")",Paris,30\r\n',
    );
    const ndjson = await get(`/api/v1/files/${file.id}/records/export?format=ndjson`);
    expect(
      ndjson.body
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).row),
    ).toEqual([1, 2, 4]);

    expect((await get(`/api/v1/files/${file.id}/records`, bob)).statusCode).toBe(404);
    expect((await get(`/api/v1/files/${file.id}/records.csv`, bob)).statusCode).toBe(404);
  });

  it('re-processing stores every row exactly once', async () => {
    const csv = `id,value\n${Array.from({ length: 2500 }, (_, index) => `${index},${index * 3}`).join('\n')}\n`;
    const file = await upload({ filename: 'many.csv', contentType: 'text/csv', content: csv });
    await finished(file.job_id);
    const again = await subject.app.inject({ method: 'POST', url: `/api/v1/files/${file.id}/process`, headers: alice.bearer });
    expect(again.statusCode).toBe(202);
    expect(again.json().status_url).toBe(`/api/v1/jobs/${again.json().job_id}`);
    expect((await finished(again.json().job_id)).status).toBe('succeeded');
    let rows = 0;
    let cursor: string | null = null;
    do {
      const page: { items: unknown[]; next_cursor: string | null } = (
        await get(`/api/v1/files/${file.id}/records?limit=1000${cursor ? `&cursor=${cursor}` : ''}`)
      ).json();
      rows += page.items.length;
      cursor = page.next_cursor;
    } while (cursor);
    expect(rows).toBe(2500);
  });

  it('reads JSON arrays and NDJSON into records', async () => {
    const json = await upload({
      filename: 'a.json',
      contentType: 'application/json',
      content: '[{"a":1,"b":{"c":true}},{"a":2}]',
    });
    expect((await finished(json.job_id)).result).toMatchObject({ rows: 2 });
    expect((await get(`/api/v1/files/${json.id}/records`)).json().items[0]).toEqual({ row: 1, data: { a: 1, b: { c: true } } });
    const ndjson = await upload({
      filename: 'b.ndjson',
      contentType: 'application/x-ndjson',
      content: '{"x":1}\nnot json\n{"x":3}\n',
    });
    expect((await finished(ndjson.job_id)).result).toMatchObject({ rows: 2, problem_count: 1 });
  });

  it('keeps the good rows of a file whose rows hold a NUL character, reporting the others', async () => {
    const ndjson = '{"a":"fine"}\n{"a":"bad\\u0000value"}\n{"a":"also fine"}\n';
    const file = await upload({ filename: 'nul.ndjson', contentType: 'application/x-ndjson', content: ndjson });
    const job = await finished(file.job_id);
    expect(job.status).toBe('succeeded');
    expect(job.result).toMatchObject({ rows: 2, problem_count: 1, problems: [{ row: 2 }] });
    const rows = (await get(`/api/v1/files/${file.id}/records`)).json().items.map((item: { row: number }) => item.row);
    expect(rows).toEqual([1, 3]);
  });

  async function storedRows(fileId: string) {
    return (await get(`/api/v1/files/${fileId}/records`)).json().items.map((item: { row: number }) => item.row);
  }

  it('keeps the other rows when a JSON or NDJSON value holds an unpaired surrogate (CSV uploads must be UTF-8 throughout)', async () => {
    const cases = [
      { filename: 'lone.json', contentType: 'application/json', content: '[{"a":"fine"},{"a":"bad\\ud800"},{"a":"fine too"}]' },
      {
        filename: 'lone.ndjson',
        contentType: 'application/x-ndjson',
        content: '{"a":"fine"}\n{"a":["x",{"b":"\\udc00y"}]}\n{"a":"fine too"}\n',
      },
    ];
    for (const part of cases) {
      const file = await upload(part);
      const job = await finished(file.job_id);
      expect(job, part.filename).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(job.result, part.filename).toMatchObject({
        rows: 2,
        problem_count: 1,
        problems: [{ row: 2, message: expect.stringMatching(/surrogate/) }],
      });
      expect(await storedRows(file.id), part.filename).toEqual([1, 3]);
      expect((await get(`/api/v1/files/${file.id}`)).json()).toMatchObject({ status: 'processed' });
    }
  });

  it('sanitises column names the database cannot hold (NUL, unpaired surrogates) instead of failing the file', async () => {
    const json = await upload({
      filename: 'keys.json',
      contentType: 'application/json',
      content: '[{"a\\u0000b":1,"c\\ud800":2},{"a\\u0000b":3}]',
    });
    const job = await finished(json.job_id);
    expect(job).toMatchObject({ status: 'succeeded', result: { rows: 2, problem_count: 0, columns: ['a\ufffdb', 'c\ufffd'] } });
    expect((await get(`/api/v1/files/${json.id}/records`)).json().items).toEqual([
      { row: 1, data: { 'a\ufffdb': 1, 'c\ufffd': 2 } },
      { row: 2, data: { 'a\ufffdb': 3 } },
    ]);
    // A NUL in a CSV header past the 8 KiB the upload sniffs.
    const header = `${'x'.repeat(9_000)},na\u0000me`;
    const csv = await upload({ filename: 'header.csv', contentType: 'text/csv', content: `${header}\n1,Ada\n2,Grace\n` });
    const csvJob = await finished(csv.job_id);
    expect(csvJob).toMatchObject({ status: 'succeeded', result: { rows: 2 } });
    expect(csvJob.result.columns[1]).toBe('na\ufffdme');
    expect((await get(`/api/v1/files/${csv.id}`)).json()).toMatchObject({ status: 'processed', metadata: { rows: 2 } });
    expect((await get(`/api/v1/files/${csv.id}/records`)).json().items[1].data['na\ufffdme']).toBe('Grace');
  });

  it('exports only own fields: rows without `__proto__` or `constructor` export empty cells', async () => {
    const ndjson = '{"__proto__":"p","constructor":"c","name":"Ada"}\n{"name":"Grace"}\n';
    const file = await upload({ filename: 'proto.ndjson', contentType: 'application/x-ndjson', content: ndjson });
    expect((await finished(file.job_id)).status).toBe('succeeded');
    const csv = (await get(`/api/v1/files/${file.id}/records.csv`)).body;
    expect(csv).toBe('row,__proto__,constructor,name\r\n1,p,c,Ada\r\n2,,,Grace\r\n');
    const lines = (await get(`/api/v1/files/${file.id}/records.ndjson`)).body.trim().split('\n');
    expect(lines[1]).toBe('{"row":2,"name":"Grace"}');
    const filtered = (await get(`/api/v1/files/${file.id}/records?filter[constructor]=c`)).json();
    expect(filtered.items.map((item: { row: number }) => item.row)).toEqual([1]);
  });

  it('reads the first sheet of an XLSX workbook', async () => {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('People');
    sheet.addRow(['name', 'age']);
    sheet.addRow(['Ada', 36]);
    sheet.addRow(['Grace', 45]);
    const bytes = Buffer.from(await workbook.xlsx.writeBuffer());
    const file = await upload({
      filename: 'people.xlsx',
      contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      content: bytes,
    });
    expect((await finished(file.job_id)).result).toMatchObject({ kind: 'tabular', rows: 2, sheet: 'People' });
    expect((await get(`/api/v1/files/${file.id}/records`)).json().items[1]).toEqual({
      row: 2,
      sheet: 'People',
      sheet_row: 2,
      data: { name: 'Grace', age: 45 },
    });
  });

  it('measures an image and serves its thumbnail', async () => {
    const png = await sharp({ create: { width: 640, height: 320, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
    const file = await upload({ filename: 'banner.png', contentType: 'image/png', content: png });
    expect((await finished(file.job_id)).result).toMatchObject({ kind: 'image', width: 640, height: 320, format: 'png' });
    expect((await get(`/api/v1/files/${file.id}`)).json().metadata).toMatchObject({ width: 640, height: 320 });
    const thumbnail = await get(`/api/v1/files/${file.id}/thumbnail`);
    expect(thumbnail.statusCode).toBe(200);
    expect(thumbnail.headers['content-type']).toBe('image/webp');
    const size = await sharp(thumbnail.rawPayload).metadata();
    expect(Math.max(size.width ?? 0, size.height ?? 0)).toBe(256);
    expect((await get(`/api/v1/files/${file.id}/thumbnail`, bob)).statusCode).toBe(404);
  });

  it("reads a PDF's page count and document info", async () => {
    const document = await PDFDocument.create();
    document.setTitle('Quarterly report');
    document.addPage();
    document.addPage();
    const file = await upload({
      filename: 'report.pdf',
      contentType: 'application/pdf',
      content: Buffer.from(await document.save()),
    });
    expect((await finished(file.job_id)).result).toMatchObject({
      kind: 'pdf',
      page_count: 2,
      info: { title: 'Quarterly report' },
    });
    expect((await get(`/api/v1/files/${file.id}`)).json()).toMatchObject({ status: 'processed', metadata: { page_count: 2 } });
  });

  it('fails a hostile file at once, without retrying, and marks the file failed', async () => {
    const deep = `[${'['.repeat(5_000)}${']'.repeat(5_000)}]`;
    const file = await upload({ filename: 'deep.json', contentType: 'application/json', content: `[{"a":${deep}}]` });
    const job = await finished(file.job_id);
    expect(job).toMatchObject({ status: 'failed', attempts: 1 });
    // The job's error is a code from the fixed set and a message written for the user.
    expect(job.error).toMatchObject({ code: 'invalid_data', message: expect.stringMatching(/nest/i) });
    expect((await get(`/api/v1/files/${file.id}`)).json().status).toBe('failed');
  });

  it('uploads without processing on ?process=false', async () => {
    const { body, contentType } = multipartBody([{ filename: 'quiet.csv', contentType: 'text/csv', content: 'a\n1\n' }]);
    const response = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/files?process=false',
      headers: { ...alice.bearer, 'content-type': contentType },
      payload: body,
    });
    expect(response.json().items[0]).toMatchObject({ job_id: null, status: 'uploaded' });
  });
});
