import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterFactories, FakeClock, type AdapterUnderTest } from '../rate-limit/adapters.ts';

describe.each(adapterFactories())('TokenRevocationStore conformance: $name', (factory) => {
  const clock = new FakeClock(Date.now());
  let adapter: AdapterUnderTest;

  beforeAll(async () => {
    adapter = await factory.create(clock);
  });
  afterAll(async () => {
    await adapter?.close();
  });

  it('reports a token as revoked once revoked, and others not', async () => {
    const revoked = randomUUID();
    const other = randomUUID();
    await adapter.revocations.revoke(revoked, new Date(clock.now() + 60_000));
    expect(await adapter.revocations.isRevoked(revoked)).toBe(true);
    expect(await adapter.revocations.isRevoked(other)).toBe(false);
  });

  it('accepts revoking the same token twice', async () => {
    const jti = randomUUID();
    await adapter.revocations.revoke(jti, new Date(clock.now() + 60_000));
    await adapter.revocations.revoke(jti, new Date(clock.now() + 60_000));
    expect(await adapter.revocations.isRevoked(jti)).toBe(true);
  });

  it('stores nothing for a token that has already expired', async () => {
    const jti = randomUUID();
    await adapter.revocations.revoke(jti, new Date(clock.now() - 1));
    expect(await adapter.revocations.isRevoked(jti)).toBe(false);
  });
});
