import { describe, expect, it } from 'vitest';
import iconv from 'iconv-lite';
import { detectTextEncoding, processCsv } from '../../src/processing/index.ts';
import { TYPE_SAMPLE_ROWS } from '../../src/processing/typed-rows.ts';
import { collect, signal, streamOf } from './fixtures.ts';

const typed = { signal: signal(), inferTypes: true };

describe('encodings', () => {
  it('reads a Windows-1252 export with accents and the euro sign, and says so', async () => {
    const text = 'Nom,Ville,Montant\r\nJosé,Zürich,€12\r\nFrançoise,Kraków,€7\r\nÅsa,Malmö,€3\r\n';
    const bytes = iconv.encode(text, 'windows-1252');
    expect(bytes.includes(0xe9)).toBe(true);
    const { rows, summary } = await collect(processCsv(streamOf(bytes, 5), typed));
    expect(summary.encoding).toBe('windows-1252');
    expect(rows).toEqual([
      { row: 1, data: { Nom: 'José', Ville: 'Zürich', Montant: '€12' } },
      { row: 2, data: { Nom: 'Françoise', Ville: 'Kraków', Montant: '€7' } },
      { row: 3, data: { Nom: 'Åsa', Ville: 'Malmö', Montant: '€3' } },
    ]);
  });

  it('reads "Unicode text" from Excel: UTF-16 LE with a BOM, tab-separated, CRLF', async () => {
    const text = 'Name\tCity\tCount\r\nZoë\t東京\t3\r\nOlaf\tÅrhus\t12\r\n';
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(text, 'utf-16le')]);
    const { rows, summary } = await collect(processCsv(streamOf(bytes, 3), typed));
    expect(summary.encoding).toBe('utf-16le');
    expect(summary.dialect).toEqual({ delimiter: '\t', quote: '"' });
    expect(rows).toEqual([
      { row: 1, data: { Name: 'Zoë', City: '東京', Count: 3 } },
      { row: 2, data: { Name: 'Olaf', City: 'Århus', Count: 12 } },
    ]);
  });

  it('reads UTF-16 BE with a BOM and UTF-8 with a BOM', async () => {
    const text = 'a,b\nü,1\n';
    const be = Buffer.concat([Buffer.from([0xfe, 0xff]), iconv.encode(text, 'utf-16be')]);
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    for (const [bytes, encoding] of [
      [be, 'utf-16be'],
      [bom, 'utf-8'],
    ] as const) {
      const { rows, summary } = await collect(processCsv(streamOf(bytes, 4), typed));
      expect(summary.encoding).toBe(encoding);
      expect(rows).toEqual([{ row: 1, data: { a: 'ü', b: 1 } }]);
    }
  });

  it('takes the encoding the uploader names over the detected one', async () => {
    // ISO-8859-15 has € at 0xA4 where Windows-1252 and Latin-1 have ¤.
    const bytes = iconv.encode('price\n€5\n', 'iso-8859-15');
    const guessed = await collect(processCsv(streamOf(bytes), typed));
    expect(guessed.rows[0]!.data.price).toBe('¤5');
    const named = await collect(processCsv(streamOf(bytes), { ...typed, encoding: 'ISO-8859-15' }));
    expect(named.rows[0]!.data.price).toBe('€5');
    expect(named.summary.encoding).toBe('iso-8859-15');
  });

  it('re-detects as Windows-1252 a file that was ASCII until a byte after the first 64 KiB', async () => {
    const lines = ['id,name'];
    for (let index = 1; lines.join('\n').length < 70 * 1024; index += 1) lines.push(`${index},plain`);
    const ascii = lines.length - 1;
    lines.push(`${ascii + 1},Zoë Müller`, `${ascii + 2},Øre`);
    const bytes = iconv.encode(`${lines.join('\n')}\n`, 'windows-1252');
    expect(bytes.indexOf(0xeb)).toBeGreaterThan(64 * 1024);
    const { rows, summary } = await collect(processCsv(streamOf(bytes, 4096), typed));
    expect(summary.encoding).toBe('windows-1252');
    expect(summary.problemCount).toBe(0);
    expect(rows).toHaveLength(ascii + 2);
    expect(rows[0]).toEqual({ row: 1, data: { id: 1, name: 'plain' } });
    expect(rows.slice(-2)).toEqual([
      { row: ascii + 1, data: { id: ascii + 1, name: 'Zoë Müller' } },
      { row: ascii + 2, data: { id: ascii + 2, name: 'Øre' } },
    ]);
  });

  it('reports each row holding a byte that breaks a UTF-8 file after its head, naming the encoding', async () => {
    const lines = ['id,name', '1,Zoë'];
    for (let index = 2; lines.join('\n').length < 70 * 1024; index += 1) lines.push(`${index},plain`);
    const last = lines.length;
    const bytes = Buffer.concat([
      Buffer.from(`${lines.join('\n')}\n`, 'utf8'),
      iconv.encode(`${last},Müller\n${last + 1},plain\n`, 'windows-1252'),
    ]);
    const { rows, summary } = await collect(processCsv(streamOf(bytes, 4096), typed));
    expect(summary.encoding).toBe('utf-8');
    expect(rows[0]).toEqual({ row: 1, data: { id: 1, name: 'Zoë' } });
    expect(rows.slice(-2)).toEqual([
      { row: last, data: { id: last, name: 'M\uFFFDller' } },
      { row: last + 1, data: { id: last + 1, name: 'plain' } },
    ]);
    expect(summary.problems).toEqual([
      {
        row: last,
        code: 'encoding_error',
        message: "Bytes that are not valid utf-8 were read as U+FFFD (�); upload with ?encoding= naming the file's encoding.",
      },
    ]);
  });

  it('detects encodings from the first bytes', () => {
    expect(detectTextEncoding(Buffer.from('plain ascii'))).toMatchObject({ encoding: 'utf-8', bom: false });
    expect(detectTextEncoding(iconv.encode('a,b\n1,2\n', 'utf-16le'))).toMatchObject({ encoding: 'utf-16le', bom: false });
    expect(detectTextEncoding(Buffer.from([0x61, 0xe9, 0x0a]), true)).toMatchObject({
      encoding: 'windows-1252',
      evidence: 'fallback',
    });
    // A multi-byte character cut by the end of the head is not evidence against UTF-8.
    expect(detectTextEncoding(Buffer.from('ab\u00e9').subarray(0, 3))).toMatchObject({ encoding: 'utf-8' });
  });
});

describe('types and locale', () => {
  it('reads a ; file with decimal commas, thousands separators and day-first dates', async () => {
    const text = [
      'Produit;Prix;Quantité;Livré le;Payé;Horodatage',
      'Chaise;1.234,50;3;31/12/2024;true;31/12/2024 18:30',
      'Table;99,9;12;05/01/2025;false;05/01/2025 08:05:09',
      'Lampe;12;;;yes;',
    ].join('\n');
    const { rows, summary } = await collect(processCsv(streamOf(iconv.encode(text, 'windows-1252')), typed));
    expect(rows).toEqual([
      {
        row: 1,
        data: {
          Produit: 'Chaise',
          Prix: 1234.5,
          Quantité: 3,
          'Livré le': '2024-12-31',
          Payé: true,
          Horodatage: '2024-12-31T18:30:00',
        },
      },
      {
        row: 2,
        data: {
          Produit: 'Table',
          Prix: 99.9,
          Quantité: 12,
          'Livré le': '2025-01-05',
          Payé: false,
          Horodatage: '2025-01-05T08:05:09',
        },
      },
      { row: 3, data: { Produit: 'Lampe', Prix: 12, Quantité: null, 'Livré le': null, Payé: true, Horodatage: null } },
    ]);
    expect(summary.columnTypes).toEqual([
      { name: 'Produit', type: 'text', nullable: false, examples: ['Chaise', 'Table', 'Lampe'], flags: [], mismatches: 0 },
      {
        name: 'Prix',
        type: 'decimal',
        nullable: false,
        examples: ['1.234,50', '99,9', '12'],
        flags: ['decimal_comma', 'thousands_separator'],
        mismatches: 0,
      },
      { name: 'Quantité', type: 'integer', nullable: true, examples: ['3', '12'], flags: [], mismatches: 0 },
      {
        name: 'Livré le',
        type: 'date',
        nullable: true,
        examples: ['31/12/2024', '05/01/2025'],
        flags: ['day_first'],
        mismatches: 0,
      },
      { name: 'Payé', type: 'boolean', nullable: false, examples: ['true', 'false', 'yes'], flags: [], mismatches: 0 },
      {
        name: 'Horodatage',
        type: 'datetime',
        nullable: true,
        examples: ['31/12/2024 18:30', '05/01/2025 08:05:09'],
        flags: ['day_first'],
        mismatches: 0,
      },
    ]);
  });

  it('settles month-first dates by a value that can only be read that way', async () => {
    const text = 'when,amount\n03/04/2024,"1,234.5"\n12/25/2024,2\n';
    const { rows, summary } = await collect(processCsv(streamOf(text), typed));
    expect(rows.map((row) => row.data)).toEqual([
      { when: '2024-03-04', amount: 1234.5 },
      { when: '2024-12-25', amount: 2 },
    ]);
    expect(summary.columnTypes?.map((column) => [column.type, column.flags])).toEqual([
      ['date', ['month_first']],
      ['decimal', ['thousands_separator']],
    ]);
  });

  it('flags a date column nothing settles as ambiguous, reading it the way the delimiter suggests', async () => {
    const comma = await collect(processCsv(streamOf('d\n01/02/2024\n03/04/2024\n'), typed));
    expect(comma.rows.map((row) => row.data.d)).toEqual(['2024-01-02', '2024-03-04']);
    expect(comma.summary.columnTypes?.[0]).toMatchObject({ type: 'date', flags: ['ambiguous'] });
    const semicolon = await collect(processCsv(streamOf('d;n\n01/02/2024;1\n03/04/2024;2\n'), typed));
    expect(semicolon.rows.map((row) => row.data.d)).toEqual(['2024-02-01', '2024-04-03']);
    expect(semicolon.summary.columnTypes?.[0]).toMatchObject({ type: 'date', flags: ['ambiguous'] });
  });

  it('keeps codes with leading zeros and huge identifiers as text', async () => {
    const { rows, summary } = await collect(processCsv(streamOf('zip,id\n01234,12345678901234567890\n75001,1\n'), typed));
    expect(rows[0]!.data).toEqual({ zip: '01234', id: '12345678901234567890' });
    expect(summary.columnTypes?.map((column) => column.type)).toEqual(['text', 'text']);
  });

  it('reports a value after the sample that contradicts its column type, keeping the row and its text', async () => {
    const lines = ['id,score'];
    for (let index = 1; index <= TYPE_SAMPLE_ROWS + 5; index += 1) lines.push(`${index},${index % 7}`);
    lines.push('9999,n/a');
    const { rows, summary } = await collect(processCsv(streamOf(lines.join('\n'), 4096), typed));
    expect(rows).toHaveLength(TYPE_SAMPLE_ROWS + 6);
    expect(rows[0]).toEqual({ row: 1, data: { id: 1, score: 1 } });
    expect(rows.at(-1)).toEqual({ row: TYPE_SAMPLE_ROWS + 6, data: { id: 9999, score: 'n/a' } });
    expect(summary.problems).toEqual([
      {
        row: TYPE_SAMPLE_ROWS + 6,
        column: 'score',
        code: 'type_mismatch',
        message: 'The value "n/a" is not a valid integer; it is kept as text.',
      },
    ]);
    expect(summary.columnTypes?.[1]).toMatchObject({ name: 'score', type: 'integer', mismatches: 1 });
  });
});
