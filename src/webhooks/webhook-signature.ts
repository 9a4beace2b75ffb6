import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { WebhooksConfig } from '../config/config.ts';
import { loadOrCreateSigningSecret } from '../storage/signing-secret.ts';

export const SIGNATURE_HEADER = 'Intake-Signature';
/** Receivers should refuse deliveries signed longer ago than this (replays). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** A new endpoint signing secret: shown to its owner once. */
export function generateEndpointSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, with one `v1` per secret: during a
 * rotation's overlap the new and the old secret both sign, so a receiver that still holds the
 * old one keeps accepting deliveries until it switches.
 */
export function signatureHeader(secrets: string | readonly string[], body: string, timestampSeconds: number): string {
  const digests = (typeof secrets === 'string' ? [secrets] : secrets).map(
    (secret) => `v1=${createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex')}`,
  );
  return `t=${timestampSeconds},${digests.join(',')}`;
}

/**
 * What a receiver does (the README shows the same in a few lines): recompute the HMAC over the
 * raw body, compare in constant time, and refuse old timestamps so a captured delivery cannot
 * be replayed later.
 */
export function verifySignature(
  secret: string,
  body: string,
  header: string,
  nowSeconds = Math.floor(Date.now() / 1000),
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): boolean {
  const parts = new Map<string, string[]>();
  for (const item of header.split(',')) {
    const [key, value] = item.split('=', 2);
    if (key && value) parts.set(key.trim(), [...(parts.get(key.trim()) ?? []), value.trim()]);
  }
  const timestamp = Number(parts.get('t')?.[0]);
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex'));
  return (parts.get('v1') ?? []).some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/**
 * Encrypts endpoint secrets at rest (AES-256-GCM): a database dump alone does not let anyone
 * sign deliveries. The key comes from WEBHOOK_SECRET_KEY, or a file generated under DATA_DIR.
 * Other secrets kept at rest (two-factor secrets) use a key derived for their own purpose from
 * the same material, so one key never encrypts two kinds of data.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  static fromKeyMaterial(material: string, purpose: SecretPurpose = 'webhook secrets'): SecretBox {
    return new SecretBox(createHash('sha256').update(`intake ${purpose}\0${material}`).digest());
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1.${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${ciphertext.toString('base64url')}`;
  }

  open(sealed: string): string {
    const [version, iv, tag, ciphertext] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || ciphertext === undefined) throw new Error('not a sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  }
}

/** What a box encrypts: each purpose gets its own key from the same material. */
export type SecretPurpose = 'webhook secrets' | 'two-factor secrets';

const boxes = new Map<string, Promise<SecretBox>>();

/** The box for this configuration and purpose, loaded (or the key file created) once per process. */
export function loadSecretBox(
  config: Pick<WebhooksConfig, 'secretKey' | 'secretKeyFile'>,
  purpose: SecretPurpose = 'webhook secrets',
): Promise<SecretBox> {
  if (config.secretKey !== undefined) return Promise.resolve(SecretBox.fromKeyMaterial(config.secretKey, purpose));
  const cacheKey = `${purpose}\0${config.secretKeyFile}`;
  let box = boxes.get(cacheKey);
  if (!box) {
    box = loadOrCreateSigningSecret(config.secretKeyFile).then((material) => SecretBox.fromKeyMaterial(material, purpose));
    box.catch(() => boxes.delete(cacheKey));
    boxes.set(cacheKey, box);
  }
  return box;
}
