import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

/** The only algorithm this service signs with or accepts: Ed25519 signatures. */
export const JWT_ALGORITHM = 'EdDSA';

export interface PublicSigningKey {
  readonly kid: string;
  readonly key: KeyObject;
  readonly jwk: JWK;
}

export interface SigningKeys {
  /** The key new tokens are signed with. */
  readonly current: { readonly kid: string; readonly privateKey: KeyObject };
  /** Every key that verifies: the current one and retired ones whose tokens may still live. */
  readonly verifying: ReadonlyMap<string, PublicSigningKey>;
}

export interface SigningKeySource {
  /** PKCS#8 PEM or private JWK, from configuration. */
  privateKey: string | undefined;
  /** JWKS or JSON array of retired public JWKs. */
  retiredPublicKeys: string | undefined;
  /** Where the embedded mode keeps its generated key pair when no key is configured. */
  dataDir: string;
}

export const KEY_FILE_NAME = 'jwt-signing-key.json';

export async function loadSigningKeys(source: SigningKeySource): Promise<SigningKeys> {
  const privateKey = source.privateKey
    ? parsePrivateKey(source.privateKey)
    : await readOrCreateKeyFile(path.join(source.dataDir, KEY_FILE_NAME));
  const retired = source.retiredPublicKeys ? parsePublicKeys(source.retiredPublicKeys) : [];
  return signingKeysFrom(privateKey, retired);
}

/** A fresh in-memory key pair; tests use it to forge tokens the service must refuse. */
export async function generateSigningKeys(retired: readonly KeyObject[] = []): Promise<SigningKeys> {
  return signingKeysFrom(generateKeyPairSync('ed25519').privateKey, retired);
}

export async function signingKeysFrom(privateKey: KeyObject, retiredPublicKeys: readonly KeyObject[]): Promise<SigningKeys> {
  assertEd25519(privateKey);
  const verifying = new Map<string, PublicSigningKey>();
  const currentPublic = await publicKeyEntry(createPublicKey(privateKey));
  verifying.set(currentPublic.kid, currentPublic);
  for (const retired of retiredPublicKeys) {
    assertEd25519(retired);
    const entry = await publicKeyEntry(retired);
    verifying.set(entry.kid, entry);
  }
  return { current: { kid: currentPublic.kid, privateKey }, verifying };
}

/** The public keys as a JWKS document, for `/.well-known/jwks.json`. */
export function jwks(keys: SigningKeys): { keys: JWK[] } {
  return { keys: [...keys.verifying.values()].map((entry) => entry.jwk) };
}

async function publicKeyEntry(key: KeyObject): Promise<PublicSigningKey> {
  const exported = await exportJWK(key);
  // The kid is the RFC 7638 thumbprint: stable for a key, the same on every instance.
  const kid = await calculateJwkThumbprint(exported);
  return { kid, key, jwk: { ...exported, kid, alg: JWT_ALGORITHM, use: 'sig' } };
}

function parsePrivateKey(text: string): KeyObject {
  const trimmed = text.trim();
  const key = trimmed.startsWith('{')
    ? createPrivateKey({ key: JSON.parse(trimmed) as JsonWebKey, format: 'jwk' })
    : createPrivateKey(trimmed.replace(/\\n/g, '\n'));
  assertEd25519(key);
  return key;
}

function parsePublicKeys(text: string): KeyObject[] {
  const parsed: unknown = JSON.parse(text);
  const list = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(list)) throw new Error('JWT_PUBLIC_KEYS must be a JWKS ({"keys": [...]}) or an array of JWKs');
  return list.map((jwk) => {
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    assertEd25519(key);
    return key;
  });
}

async function readOrCreateKeyFile(file: string): Promise<KeyObject> {
  try {
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as JsonWebKey;
    return createPrivateKey({ key: stored, format: 'jwk' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const privateKey = generateKeyPairSync('ed25519').privateKey;
  const jwk = privateKey.export({ format: 'jwk' });
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    // `wx`: if another process created it a moment ago, keep theirs so both sign alike.
    fs.writeFileSync(file, JSON.stringify(jwk), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readOrCreateKeyFile(file);
  }
  fs.chmodSync(file, 0o600);
  return createPrivateKey({ key: jwk, format: 'jwk' });
}

function assertEd25519(key: KeyObject): void {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`JWT keys must be Ed25519 (got ${key.asymmetricKeyType ?? key.type})`);
  }
}
