import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether an Authorization header carries the metrics bearer token. Both sides are hashed
 * first, so the comparison takes the same time whatever the length or content of the guess.
 */
export function metricsTokenMatches(expected: string | undefined, authorization: string | undefined): boolean {
  if (expected === undefined) return true;
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1] ?? '';
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected)) && presented.length > 0;
}
