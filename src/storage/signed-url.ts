import { createHmac, timingSafeEqual } from 'node:crypto';
import { ERRORS } from '../errors/catalog.ts';

/**
 * HMAC-SHA256 signed links to blobs served by Intake itself (the local driver's equivalent of
 * a SAS or presigned URL). Everything that limits what the link grants is covered by the
 * signature: method, key, expiry and the response/upload constraints.
 */
export type SignedMethod = 'GET' | 'PUT';

export interface SignedBlobGrant {
  contentDisposition?: string;
  contentType?: string;
  maxBytes?: number;
}

export interface SignBlobUrlInput extends SignedBlobGrant {
  /** e.g. `https://intake.example.com/api/v1`; the link is `${baseUrl}/blobs/${key}?…`. */
  baseUrl: string;
  secret: string;
  method: SignedMethod;
  key: string;
  expiresAt: Date;
}

export const SIGNED_BLOB_PATH = '/blobs/';

const PARAM = {
  expires: 'expires',
  signature: 'signature',
  disposition: 'response-content-disposition',
  contentType: 'content-type',
  maxBytes: 'max-bytes',
} as const;

export function createSignedBlobUrl(input: SignBlobUrlInput): string {
  const expires = Math.floor(input.expiresAt.getTime() / 1000);
  const url = new URL(
    `${input.baseUrl.replace(/\/$/, '')}${SIGNED_BLOB_PATH}${input.key.split('/').map(encodeURIComponent).join('/')}`,
  );
  url.searchParams.set(PARAM.expires, String(expires));
  if (input.contentDisposition !== undefined) url.searchParams.set(PARAM.disposition, input.contentDisposition);
  if (input.contentType !== undefined) url.searchParams.set(PARAM.contentType, input.contentType);
  if (input.maxBytes !== undefined) url.searchParams.set(PARAM.maxBytes, String(input.maxBytes));
  url.searchParams.set(PARAM.signature, signature(input.secret, input.method, input.key, String(expires), input));
  return url.toString();
}

export interface VerifyBlobUrlInput {
  secret: string;
  /** `HEAD` is verified as `GET`: it reveals no more than the download would. */
  method: string;
  key: string;
  query: Readonly<Record<string, string | string[] | undefined>>;
  now?: Date;
}

/** Returns what the link grants; throws `signed_url_invalid` or `signed_url_expired` (both 403). */
export function verifySignedBlobUrl(input: VerifyBlobUrlInput): SignedBlobGrant {
  const single = (name: string): string | undefined => {
    const value = input.query[name];
    if (Array.isArray(value)) throw ERRORS.signedUrlInvalid();
    return value;
  };
  const method: SignedMethod | undefined =
    input.method === 'GET' || input.method === 'HEAD' ? 'GET' : input.method === 'PUT' ? 'PUT' : undefined;
  const expires = single(PARAM.expires);
  const provided = single(PARAM.signature);
  if (method === undefined || expires === undefined || provided === undefined || !/^\d{1,12}$/.test(expires)) {
    throw ERRORS.signedUrlInvalid();
  }
  const maxBytesRaw = single(PARAM.maxBytes);
  if (maxBytesRaw !== undefined && !/^\d{1,16}$/.test(maxBytesRaw)) throw ERRORS.signedUrlInvalid();
  const grant: SignedBlobGrant = {
    ...(single(PARAM.disposition) === undefined ? {} : { contentDisposition: single(PARAM.disposition) }),
    ...(single(PARAM.contentType) === undefined ? {} : { contentType: single(PARAM.contentType) }),
    ...(maxBytesRaw === undefined ? {} : { maxBytes: Number(maxBytesRaw) }),
  };
  // Compared as text, not as decoded bytes: base64 decoders accept other spellings of the same
  // bytes (padding, `+/`, stray bits in the last character), and a link has one valid form.
  const expected = Buffer.from(signature(input.secret, method, input.key, expires, grant), 'utf8');
  const given = Buffer.from(provided, 'utf8');
  // The signature is checked before the expiry so a forged link never learns anything else.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw ERRORS.signedUrlInvalid();
  if (Number(expires) * 1000 <= (input.now ?? new Date()).getTime()) throw ERRORS.signedUrlExpired();
  return grant;
}

function signature(secret: string, method: SignedMethod, key: string, expires: string, grant: SignedBlobGrant): string {
  // Length-prefixed fields: no value can be shifted into its neighbour to forge another grant.
  const fields = [
    'intake-blob-v1',
    method,
    key,
    expires,
    grant.contentDisposition,
    grant.contentType,
    grant.maxBytes?.toString(),
  ];
  const canonical = fields.map((field) => (field === undefined ? '-' : `${field.length}:${field}`)).join('\n');
  return createHmac('sha256', secret).update(canonical).digest('base64url');
}
