import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterFactories, FakeClock, type AdapterUnderTest } from './adapters.ts';

describe.each(adapterFactories())('RateLimiter conformance: $name', (factory) => {
  const clock = new FakeClock();
  let adapter: AdapterUnderTest;
  let counter = 0;
  const key = () => `conformance:${(counter += 1)}:${Math.random()}`;

  beforeAll(async () => {
    adapter = await factory.create(clock);
  });
  afterAll(async () => {
    await adapter?.close();
  });

  it('allows up to the limit in a window and refuses the next attempt', async () => {
    const k = key();
    const decisions = [];
    for (let attempt = 0; attempt < 4; attempt += 1) decisions.push(await adapter.rateLimiter.consume(k, 3, 60));
    expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, true, false]);
    expect(decisions.map((decision) => decision.remaining)).toEqual([2, 1, 0, 0]);
  });

  it('says how many whole seconds remain until the window resets', async () => {
    const k = key();
    await adapter.rateLimiter.consume(k, 1, 60);
    clock.advance(20_500);
    const refused = await adapter.rateLimiter.consume(k, 1, 60);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterSeconds).toBe(40);
  });

  it('starts a new window once the old one has passed', async () => {
    const k = key();
    await adapter.rateLimiter.consume(k, 1, 60);
    expect((await adapter.rateLimiter.consume(k, 1, 60)).allowed).toBe(false);
    clock.advance(60_000);
    const fresh = await adapter.rateLimiter.consume(k, 1, 60);
    expect(fresh).toEqual({ allowed: true, remaining: 0, retryAfterSeconds: 60 });
  });

  it('keeps keys apart', async () => {
    const a = key();
    const b = key();
    await adapter.rateLimiter.consume(a, 1, 60);
    expect((await adapter.rateLimiter.consume(b, 1, 60)).allowed).toBe(true);
  });

  it('counts concurrent attempts exactly', async () => {
    const k = key();
    const decisions = await Promise.all(Array.from({ length: 20 }, () => adapter.rateLimiter.consume(k, 5, 60)));
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(5);
  });

  it('forgets a key on reset', async () => {
    const k = key();
    await adapter.rateLimiter.consume(k, 1, 60);
    await adapter.rateLimiter.reset(k);
    expect((await adapter.rateLimiter.consume(k, 1, 60)).allowed).toBe(true);
  });
});
