import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JwtTokens } from '../../src/auth/jwt-tokens.ts';
import { jwks, KEY_FILE_NAME, loadSigningKeys, signingKeysFrom } from '../../src/auth/signing-keys.ts';
import { loadConfig } from '../../src/config/config.ts';

const directories: string[] = [];
const tempDir = () => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-keys-'));
  directories.push(directory);
  return directory;
};

afterAll(() => {
  for (const directory of directories) fs.rmSync(directory, { recursive: true, force: true });
});

const lifetimes = { accessSeconds: 600, refreshSeconds: 6000 };
const subject = { userId: '7d3f1c2e-1b7a-4c55-9f0e-2a9f8a1b2c3d', sessionId: '0b6f7a2e-8c1d-4e3f-9a5b-6c7d8e9f0a1b' };

describe('signing keys', () => {
  it('generates a key pair on first start under DATA_DIR with mode 0600 and reuses it', async () => {
    const dataDir = tempDir();
    const first = await loadSigningKeys({ privateKey: undefined, retiredPublicKeys: undefined, dataDir });
    const file = path.join(dataDir, KEY_FILE_NAME);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const second = await loadSigningKeys({ privateKey: undefined, retiredPublicKeys: undefined, dataDir });
    expect(second.current.kid).toBe(first.current.kid);
    // A token signed before a restart verifies after it.
    const token = await new JwtTokens(first, lifetimes).issue('access', subject);
    await expect(new JwtTokens(second, lifetimes).verify(token.token, 'access')).resolves.toMatchObject({ sub: subject.userId });
  });

  it('reads a configured PEM key (with escaped newlines) and keeps verifying a retired key', async () => {
    const current = generateKeyPairSync('ed25519');
    const retired = generateKeyPairSync('ed25519');
    const pem = current.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString().replace(/\n/g, '\\n');
    const retiredJwks = JSON.stringify({ keys: [retired.publicKey.export({ format: 'jwk' })] });
    const keys = await loadSigningKeys({ privateKey: pem, retiredPublicKeys: retiredJwks, dataDir: tempDir() });
    expect(keys.verifying.size).toBe(2);
    expect(jwks(keys).keys.map((key) => key.kid)).toContain(keys.current.kid);

    const oldKeys = await signingKeysFrom(retired.privateKey, []);
    const oldToken = await new JwtTokens(oldKeys, lifetimes).issue('access', subject);
    await expect(new JwtTokens(keys, lifetimes).verify(oldToken.token, 'access')).resolves.toMatchObject({
      sid: subject.sessionId,
    });
  });

  it('reads a configured private JWK', async () => {
    const pair = generateKeyPairSync('ed25519');
    const keys = await loadSigningKeys({
      privateKey: JSON.stringify(pair.privateKey.export({ format: 'jwk' })),
      retiredPublicKeys: undefined,
      dataDir: tempDir(),
    });
    expect(keys.verifying.size).toBe(1);
  });

  it('refuses keys that are not Ed25519', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await expect(loadSigningKeys({ privateKey: pem, retiredPublicKeys: undefined, dataDir: tempDir() })).rejects.toThrow(
      /Ed25519/,
    );
  });

  it('requires JWT_PRIVATE_KEY in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_PRIVATE_KEY/);
  });
});
