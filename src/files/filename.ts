import path from 'node:path';

const MAX_FILENAME_LENGTH = 255;
// C0 and C1 controls, DEL, and the bidirectional overrides that can disguise an extension.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * The client's file name as display metadata: no directories, no control characters, NFC,
 * bounded length keeping the extension. Never used to build a storage path.
 */
export function sanitizeFilename(raw: string | undefined): string {
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  let name = base.normalize('NFC').replace(UNSAFE_CHARACTERS, '').trim().replace(/^\.+/, '');
  if (name === '') return 'upload';
  if ([...name].length > MAX_FILENAME_LENGTH) {
    const extension = path.extname(name).slice(0, 16);
    name = [...name].slice(0, MAX_FILENAME_LENGTH - [...extension].length).join('') + extension;
  }
  return name;
}

/**
 * `Content-Disposition: attachment` per RFC 6266: an ASCII fallback for old clients and the
 * exact name, percent-encoded, in `filename*`.
 */
export function attachmentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(
    /['()*]/g,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
