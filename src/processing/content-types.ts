/**
 * The file types Intake processes, each with its one canonical MIME string (what we store
 * and answer with) and the aliases clients send for it.
 */
export type ContentKind = 'csv' | 'json' | 'ndjson' | 'xlsx' | 'png' | 'jpeg' | 'webp' | 'pdf';
export type ProcessorFamily = 'tabular' | 'image' | 'pdf';

export interface SupportedContentType {
  kind: ContentKind;
  mime: string;
  family: ProcessorFamily;
  extensions: readonly string[];
  aliases: readonly string[];
}

export const XLSX_MIME = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

export const SUPPORTED_CONTENT_TYPES: readonly SupportedContentType[] = Object.freeze([
  {
    kind: 'csv',
    mime: 'text/csv',
    family: 'tabular',
    extensions: ['.csv'],
    aliases: ['application/csv', 'text/comma-separated-values', 'text/x-csv'],
  },
  { kind: 'json', mime: 'application/json', family: 'tabular', extensions: ['.json'], aliases: ['text/json'] },
  {
    kind: 'ndjson',
    mime: 'application/x-ndjson',
    family: 'tabular',
    extensions: ['.ndjson', '.jsonl'],
    aliases: ['application/ndjson', 'application/jsonl', 'application/x-jsonlines', 'application/jsonlines'],
  },
  { kind: 'xlsx', mime: XLSX_MIME, family: 'tabular', extensions: ['.xlsx'], aliases: [] },
  { kind: 'png', mime: 'image/png', family: 'image', extensions: ['.png'], aliases: [] },
  { kind: 'jpeg', mime: 'image/jpeg', family: 'image', extensions: ['.jpg', '.jpeg'], aliases: ['image/jpg', 'image/pjpeg'] },
  { kind: 'webp', mime: 'image/webp', family: 'image', extensions: ['.webp'], aliases: [] },
  { kind: 'pdf', mime: 'application/pdf', family: 'pdf', extensions: ['.pdf'], aliases: ['application/x-pdf'] },
] satisfies SupportedContentType[]);

/** Canonical MIME strings, e.g. for an `Accept`-style list in the API docs. */
export const SUPPORTED_MIME_TYPES: readonly string[] = Object.freeze(SUPPORTED_CONTENT_TYPES.map((type) => type.mime));

/**
 * The supported type a declared `Content-Type` names, ignoring case and parameters
 * (`text/csv; charset=utf-8` is CSV); undefined when it names none.
 */
export function supportedContentType(declared: string): SupportedContentType | undefined {
  const essence = declared.split(';', 1)[0]!.trim().toLowerCase();
  return SUPPORTED_CONTENT_TYPES.find((type) => type.mime === essence || type.aliases.includes(essence));
}

/** The supported type a file name's extension suggests, for clients that send `application/octet-stream`. */
export function contentTypeForFileName(fileName: string): SupportedContentType | undefined {
  const lower = fileName.toLowerCase();
  return SUPPORTED_CONTENT_TYPES.find((type) => type.extensions.some((extension) => lower.endsWith(extension)));
}
