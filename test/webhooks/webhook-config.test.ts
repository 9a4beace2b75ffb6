import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { webhookRetryPolicy } from '../../src/webhooks/webhook-delivery.job.ts';
import { SecretBox, signatureHeader, verifySignature } from '../../src/webhooks/webhook-signature.ts';

describe('webhook configuration and signing', () => {
  it('reads the WEBHOOK_* and SMTP variables with their defaults', () => {
    const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: '/tmp/intake-config-test' });
    expect(config.webhooks).toMatchObject({
      allowPrivateNetworks: false,
      allowedCidrs: [],
      retryBaseMs: 10_000,
      retryWindowMs: 86_400_000,
      secretKey: undefined,
      secretKeyFile: '/tmp/intake-config-test/webhook-secret.key',
    });
    expect(config.email.smtpUrl).toBeUndefined();
    const set = loadConfig({
      NODE_ENV: 'test',
      WEBHOOK_ALLOWED_CIDRS: '10.0.0.0/8, fd00::/8,127.0.0.1',
      SMTP_URL: 'smtp://127.0.0.1:2525',
    });
    expect(set.webhooks.allowedCidrs).toEqual(['10.0.0.0/8', 'fd00::/8', '127.0.0.1']);
    expect(set.email.smtpUrl).toBe('smtp://127.0.0.1:2525');
  });

  it('refuses malformed CIDRs, short secret keys and non-SMTP URLs at boot', () => {
    expect(() => loadConfig({ WEBHOOK_ALLOWED_CIDRS: '10.0.0.0/33' })).toThrow(ConfigError);
    expect(() => loadConfig({ WEBHOOK_ALLOWED_CIDRS: 'intranet' })).toThrow(/WEBHOOK_ALLOWED_CIDRS/);
    expect(() => loadConfig({ WEBHOOK_SECRET_KEY: 'short' })).toThrow(/WEBHOOK_SECRET_KEY/);
    expect(() => loadConfig({ SMTP_URL: 'http://mail.example.com' })).toThrow(/SMTP_URL/);
  });

  it('retries as many doubling waits as fit in the window', () => {
    expect(webhookRetryPolicy({ retryBaseMs: 300, retryMaxDelayMs: 5_000, retryWindowMs: 3_000 }).maxAttempts).toBe(4);
    expect(webhookRetryPolicy({ retryBaseMs: 10_000, retryMaxDelayMs: 3_600_000, retryWindowMs: 86_400_000 }).maxAttempts).toBe(
      32,
    );
    // A window shorter than the first wait: one attempt, no retry.
    expect(webhookRetryPolicy({ retryBaseMs: 10_000, retryMaxDelayMs: 10_000, retryWindowMs: 0 }).maxAttempts).toBe(1);
  });

  it('encrypts secrets at rest and detects tampering', () => {
    const box = SecretBox.fromKeyMaterial('k'.repeat(40));
    const sealed = box.seal('whsec_abc');
    expect(sealed).not.toContain('whsec_abc');
    expect(box.open(sealed)).toBe('whsec_abc');
    expect(() => SecretBox.fromKeyMaterial('j'.repeat(40)).open(sealed)).toThrow();
    const parts = sealed.split('.');
    parts[3] = Buffer.from('whsec_abd').toString('base64url');
    expect(() => box.open(parts.join('.'))).toThrow();
  });

  it('signs "<timestamp>.<body>" and refuses replays outside five minutes either way', () => {
    const header = signatureHeader('whsec_x', '{"a":1}', 1_000_000);
    expect(verifySignature('whsec_x', '{"a":1}', header, 1_000_000)).toBe(true);
    expect(verifySignature('whsec_x', '{"a":1}', header, 1_000_300)).toBe(true);
    expect(verifySignature('whsec_x', '{"a":1}', header, 1_000_301)).toBe(false);
    expect(verifySignature('whsec_x', '{"a":1}', header, 999_699)).toBe(false);
    expect(verifySignature('whsec_x', '{"a":2}', header, 1_000_000)).toBe(false);
    expect(verifySignature('whsec_x', '{"a":1}', 'v1=00', 1_000_000)).toBe(false);
  });
});
