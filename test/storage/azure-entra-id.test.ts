import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { createBlobStore } from '../../src/storage/create-blob-store.ts';
import { blobStoreConformance } from './blob-store.conformance.ts';
import { AZURITE_ACCOUNT, startAzurite, type RunningAzurite } from './azurite.ts';

/**
 * The Entra ID path: Intake holds no account key, authenticates with a token credential and
 * signs user delegation SAS links. Azurite accepts bearer tokens only over HTTPS, so it runs
 * with a certificate made for this run; it checks a token's shape (issuer, audience, lifetime),
 * not its signature, so a credential minting unsigned tokens stands in for Entra ID.
 */
const TENANT = randomUUID();
const OBJECT_ID = randomUUID();

class EmulatorTokenCredential implements TokenCredential {
  requests = 0;
  async getToken(): Promise<AccessToken> {
    this.requests += 1;
    const now = Math.floor(Date.now() / 1000);
    const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const claims = {
      aud: 'https://storage.azure.com',
      iss: `https://sts.windows.net/${TENANT}/`,
      tid: TENANT,
      oid: OBJECT_ID,
      iat: now - 60,
      nbf: now - 60,
      exp: now + 3600,
    };
    return { token: `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`, expiresOnTimestamp: (now + 3600) * 1000 };
  }
}

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasOpenssl)('Azure Blob with an Entra ID credential (Azurite over HTTPS)', () => {
  let azurite: RunningAzurite;
  let certDir: string;
  const credential = new EmulatorTokenCredential();
  const container = `entra-${randomUUID().slice(0, 8)}`;
  const previousTlsSetting = process.env.NODE_TLS_REJECT_UNAUTHORIZED;

  beforeAll(async () => {
    certDir = await fs.mkdtemp(path.join(os.tmpdir(), 'intake-azurite-tls-'));
    const certFile = path.join(certDir, 'cert.pem');
    const keyFile = path.join(certDir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'ignore' },
    );
    // The certificate is made for this run; this test file's worker alone trusts it blindly.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    azurite = await startAzurite({ tls: { certFile, keyFile } });
  }, 30_000);
  afterAll(async () => {
    await azurite?.stop();
    if (certDir) await fs.rm(certDir, { recursive: true, force: true });
    if (previousTlsSetting === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previousTlsSetting;
  });

  const open = async ({ clock }: { clock?: () => Date }) => {
    const config = loadConfig({
      AZURE_STORAGE_ACCOUNT_NAME: AZURITE_ACCOUNT,
      AZURE_STORAGE_ACCOUNT_URL: azurite.blobEndpoint,
      AZURE_STORAGE_CONTAINER: container,
    });
    const store = await createBlobStore(config.storage, {
      azureCredential: credential,
      // Azurite 3.35 checks user delegation SAS only up to this version; the SDK signs newer ones.
      azureSasVersion: '2025-07-05',
      ...(clock ? { clock } : {}),
    });
    return { store, close: () => store.close() };
  };

  blobStoreConformance('Azure Blob with Entra ID (user delegation SAS)', open);

  it('signs links as user delegation SAS with the token credential', async () => {
    const { store } = await open({});
    const link = await store.createReadUrl('entra/any', { expiresInSeconds: 60 });
    const query = new URL(link.url).searchParams;
    // skoid/sktid/skv belong to user delegation SAS only; a service SAS has none of them.
    expect(query.get('skoid')).toBeTruthy();
    expect(query.get('skv')).toBeTruthy();
    expect(query.get('sp')).toBe('r');
    expect(query.get('spr')).toBe('https');
    expect(credential.requests).toBeGreaterThan(0);
  });
});
