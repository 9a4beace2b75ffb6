import { describe, expect, it } from 'vitest';
import { createSignedBlobUrl, verifySignedBlobUrl } from '../../src/storage/signed-url.ts';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
const NOW = new Date('2026-01-01T00:00:00Z');
const LATER = new Date('2026-01-01T01:00:00Z');

function queryOf(url: string): Record<string, string> {
  return Object.fromEntries(new URL(url).searchParams);
}

describe('signed blob links', () => {
  const url = createSignedBlobUrl({
    baseUrl: 'https://intake.example.com/api/v1/',
    secret: SECRET,
    method: 'GET',
    key: 'files/abc/def',
    expiresAt: LATER,
    contentDisposition: 'attachment; filename="a b.csv"',
  });

  it('builds a link under the public base URL with the expiry as a Unix time', () => {
    const parsed = new URL(url);
    expect(parsed.origin + parsed.pathname).toBe('https://intake.example.com/api/v1/blobs/files/abc/def');
    expect(parsed.searchParams.get('expires')).toBe(String(LATER.getTime() / 1000));
  });

  it('grants what it was signed for until it expires', () => {
    const grant = verifySignedBlobUrl({ secret: SECRET, method: 'GET', key: 'files/abc/def', query: queryOf(url), now: NOW });
    expect(grant).toEqual({ contentDisposition: 'attachment; filename="a b.csv"' });
    expect(() =>
      verifySignedBlobUrl({ secret: SECRET, method: 'HEAD', key: 'files/abc/def', query: queryOf(url), now: NOW }),
    ).not.toThrow();
  });

  it('refuses it as expired from its expiry time on', () => {
    expect(() =>
      verifySignedBlobUrl({ secret: SECRET, method: 'GET', key: 'files/abc/def', query: queryOf(url), now: LATER }),
    ).toThrow(expect.objectContaining({ code: 'signed_url_expired', status: 403 }));
  });

  it.each([
    ['another key', { key: 'files/abc/other' }],
    ['another method', { method: 'PUT' }],
    ['another secret', { secret: `${SECRET}x` }],
    ['a later expiry', { query: { ...queryOf(url), expires: String(LATER.getTime() / 1000 + 1) } }],
    ['another disposition', { query: { ...queryOf(url), 'response-content-disposition': 'inline' } }],
    ['an added size limit', { query: { ...queryOf(url), 'max-bytes': '10' } }],
    ['a truncated signature', { query: { ...queryOf(url), signature: queryOf(url).signature?.slice(0, 20) ?? '' } }],
    ['no signature', { query: { expires: queryOf(url).expires ?? '' } }],
    ['a repeated parameter', { query: { ...queryOf(url), expires: ['1', '2'] } }],
  ])('refuses it as invalid for %s', (_label, change) => {
    const input = { secret: SECRET, method: 'GET', key: 'files/abc/def', query: queryOf(url), now: NOW, ...change };
    expect(() => verifySignedBlobUrl(input)).toThrow(expect.objectContaining({ code: 'signed_url_invalid', status: 403 }));
  });

  it('binds the content type and size limit of an upload link', () => {
    const upload = createSignedBlobUrl({
      baseUrl: 'https://intake.example.com/api/v1',
      secret: SECRET,
      method: 'PUT',
      key: 'uploads/x',
      expiresAt: LATER,
      contentType: 'text/csv',
      maxBytes: 1000,
    });
    expect(verifySignedBlobUrl({ secret: SECRET, method: 'PUT', key: 'uploads/x', query: queryOf(upload), now: NOW })).toEqual({
      contentType: 'text/csv',
      maxBytes: 1000,
    });
    const raised = { ...queryOf(upload), 'max-bytes': '1000000' };
    expect(() => verifySignedBlobUrl({ secret: SECRET, method: 'PUT', key: 'uploads/x', query: raised, now: NOW })).toThrow(
      expect.objectContaining({ code: 'signed_url_invalid' }),
    );
  });
});
