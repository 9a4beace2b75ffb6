import { generateKeyPairSync, randomBytes } from 'node:crypto';

/**
 * The `.env` lines of every secret a fleet must share, freshly generated: the JWT signing key
 * (Ed25519, PKCS#8 PEM with its newlines written as `\n`, which JWT_PRIVATE_KEY accepts), the
 * storage link signing secret and the webhook secret key. One line each, no quotes needed.
 */
export function generateFleetKeys(): string[] {
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().trim();
  return [
    `JWT_PRIVATE_KEY=${pem.replace(/\n/g, '\\n')}`,
    `STORAGE_SIGNING_SECRET=${randomBytes(48).toString('base64url')}`,
    `WEBHOOK_SECRET_KEY=${randomBytes(48).toString('base64url')}`,
  ];
}
