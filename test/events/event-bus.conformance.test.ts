import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventBus, EventBusLog } from '../../src/events/event-bus.ts';
import { MemoryEventBus } from '../../src/events/memory-event-bus.ts';
import { RedisEventBus } from '../../src/events/redis-event-bus.ts';
import { EVENT_VERSION, ownerChannel, type RealtimeEvent } from '../../src/events/realtime-events.ts';

interface BusAdapter {
  name: string;
  /** Two handles on one bus, as two processes would hold (the same instance for memory). */
  open(log: EventBusLog): { publisher: EventBus; subscriber: EventBus; buses: EventBus[] };
}

const redisUrl = process.env.REDIS_URL;
const adapters: BusAdapter[] = [
  {
    name: 'memory',
    open(log) {
      const bus = new MemoryEventBus(log);
      return { publisher: bus, subscriber: bus, buses: [bus] };
    },
  },
];
if (redisUrl) {
  adapters.push({
    name: 'redis',
    open(log) {
      const prefix = `intake-test:${randomUUID()}:`;
      const publisher = new RedisEventBus({ url: redisUrl, prefix, log });
      const subscriber = new RedisEventBus({ url: redisUrl, prefix, log });
      return { publisher, subscriber, buses: [publisher, subscriber] };
    },
  });
}

function progress(ownerId: string, jobId: string, current: number): RealtimeEvent {
  return {
    type: 'job.progress',
    $version: EVENT_VERSION,
    owner_id: ownerId,
    job_id: jobId,
    file_id: null,
    progress: { current, total: 10, percent: current * 10, message: null },
  };
}

/** Waits until `count` events have arrived; a bus delivers asynchronously across processes. */
function collector(count: number) {
  const events: RealtimeEvent[] = [];
  let done!: () => void;
  const arrived = new Promise<void>((resolve) => {
    done = resolve;
  });
  return {
    events,
    arrived,
    listener: (event: RealtimeEvent) => {
      events.push(event);
      if (events.length === count) done();
    },
  };
}

describe.each(adapters)('event bus: $name', (adapter) => {
  let open: EventBus[] = [];
  /** What the buses logged: a listener's failure must be reported, never dropped. */
  let warnings: { details: object; message: string }[] = [];
  afterEach(async () => {
    await Promise.all(open.map((bus) => bus.close()));
    open = [];
    warnings = [];
  });
  function buses() {
    const handles = adapter.open({ warn: (details, message) => warnings.push({ details, message }) });
    open.push(...handles.buses);
    return handles;
  }

  it('delivers events on an owner channel in publish order', async () => {
    const { publisher, subscriber } = buses();
    const owner = randomUUID();
    const job = randomUUID();
    const received = collector(5);
    await subscriber.subscribe(ownerChannel(owner), received.listener);
    for (let current = 1; current <= 5; current += 1) await publisher.publish(progress(owner, job, current));
    await received.arrived;
    expect(received.events.map((event) => (event.type === 'job.progress' ? event.progress.current : -1))).toEqual([
      1, 2, 3, 4, 5,
    ]);
    expect(received.events[0]).toEqual(progress(owner, job, 1));
  });

  it("keeps one owner's events away from another owner's subscribers", async () => {
    const { publisher, subscriber } = buses();
    const alice = randomUUID();
    const bob = randomUUID();
    const bobEvents: RealtimeEvent[] = [];
    const aliceEvents = collector(1);
    await subscriber.subscribe(ownerChannel(bob), (event) => bobEvents.push(event));
    await subscriber.subscribe(ownerChannel(alice), aliceEvents.listener);
    await publisher.publish(progress(alice, randomUUID(), 1));
    await aliceEvents.arrived;
    expect(bobEvents).toEqual([]);
  });

  it('delivers to every subscriber of a channel, and no longer to one that unsubscribed', async () => {
    const { publisher, subscriber } = buses();
    const owner = randomUUID();
    const first = collector(2);
    const second = collector(1);
    await subscriber.subscribe(ownerChannel(owner), first.listener);
    const unsubscribe = await subscriber.subscribe(ownerChannel(owner), second.listener);
    await publisher.publish(progress(owner, randomUUID(), 1));
    await second.arrived;
    await unsubscribe();
    await publisher.publish(progress(owner, randomUUID(), 2));
    await first.arrived;
    expect(second.events).toHaveLength(1);
  });

  it('keeps delivering to the others when one listener throws, and logs the failure', async () => {
    const { publisher, subscriber } = buses();
    const owner = randomUUID();
    const received = collector(1);
    await subscriber.subscribe(ownerChannel(owner), () => {
      throw new Error('broken listener');
    });
    await subscriber.subscribe(ownerChannel(owner), received.listener);
    await publisher.publish(progress(owner, randomUUID(), 1));
    await received.arrived;
    expect(received.events).toHaveLength(1);
    expect(warnings).toEqual([
      { details: { err: new Error('broken listener'), event: 'job.progress' }, message: 'realtime event listener failed' },
    ]);
  });

  it('resubscribes after the last listener of a channel left', async () => {
    const { publisher, subscriber } = buses();
    const owner = randomUUID();
    const unsubscribe = await subscriber.subscribe(ownerChannel(owner), () => undefined);
    await unsubscribe();
    const received = collector(1);
    await subscriber.subscribe(ownerChannel(owner), received.listener);
    await publisher.publish(progress(owner, randomUUID(), 7));
    await received.arrived;
    expect(received.events).toHaveLength(1);
  });
});
