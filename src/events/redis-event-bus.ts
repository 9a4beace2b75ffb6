import { Redis } from 'ioredis';
import type { EventBus, EventBusLog, EventListener, Unsubscribe } from './event-bus.ts';
import { ownerChannel, parseRealtimeEvent, type RealtimeEvent } from './realtime-events.ts';

export interface RedisEventBusOptions {
  url: string;
  /** REDIS_KEY_PREFIX: channels are `<prefix>events:<channel>`, so deployments sharing a Redis stay apart. */
  prefix: string;
  onError?: (error: unknown) => void;
  /** Where a listener that threw is reported. */
  log: EventBusLog;
}

/**
 * Fan-out over Redis pub/sub for the scaled mode: workers publish, every API process relays to
 * its own sockets. A process subscribes to an owner's channel only while it holds a socket of
 * that owner, so Redis sends each process only the events it can deliver.
 */
export class RedisEventBus implements EventBus {
  readonly kind = 'redis';
  private readonly publisher: Redis;
  private subscriber: Redis | undefined;
  private readonly channels = new Map<string, { listeners: Set<EventListener>; ready: Promise<unknown> }>();

  constructor(private readonly options: RedisEventBusOptions) {
    // Publishing never blocks a job for long: a Redis outage drops events (the row is the record).
    this.publisher = new Redis(options.url, { maxRetriesPerRequest: 2, connectTimeout: 5_000, lazyConnect: true });
    this.publisher.on('error', (error) => options.onError?.(error));
  }

  private redisChannel(channel: string): string {
    return `${this.options.prefix}events:${channel}`;
  }

  async publish(event: RealtimeEvent): Promise<void> {
    await this.publisher.publish(this.redisChannel(ownerChannel(event.owner_id)), JSON.stringify(event));
  }

  private connectSubscriber(): Redis {
    if (this.subscriber) return this.subscriber;
    // A connection in subscriber mode can do nothing else, hence its own. ioredis re-subscribes after a reconnect.
    const subscriber = new Redis(this.options.url, { maxRetriesPerRequest: null, connectTimeout: 5_000 });
    subscriber.on('error', (error) => this.options.onError?.(error));
    const prefix = `${this.options.prefix}events:`;
    subscriber.on('message', (redisChannel: string, message: string) => {
      const entry = this.channels.get(redisChannel.slice(prefix.length));
      if (!entry) return;
      const event = parseRealtimeEvent(message);
      if (!event) return;
      for (const listener of [...entry.listeners]) {
        try {
          listener(event);
        } catch (error) {
          // One broken listener must not keep the event from the others.
          this.options.log.warn({ err: error, event: event.type }, 'realtime event listener failed');
        }
      }
    });
    this.subscriber = subscriber;
    return subscriber;
  }

  async subscribe(channel: string, listener: EventListener): Promise<Unsubscribe> {
    const subscriber = this.connectSubscriber();
    let entry = this.channels.get(channel);
    if (!entry) {
      entry = { listeners: new Set(), ready: subscriber.subscribe(this.redisChannel(channel)) };
      this.channels.set(channel, entry);
    }
    entry.listeners.add(listener);
    try {
      await entry.ready;
    } catch (error) {
      entry.listeners.delete(listener);
      if (entry.listeners.size === 0 && this.channels.get(channel) === entry) this.channels.delete(channel);
      throw error;
    }
    const current = entry;
    return async () => {
      current.listeners.delete(listener);
      if (current.listeners.size > 0 || this.channels.get(channel) !== current) return;
      this.channels.delete(channel);
      // Commands on one connection run in order: a later SUBSCRIBE to the same channel wins.
      await subscriber.unsubscribe(this.redisChannel(channel)).catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    this.channels.clear();
    const clients = [this.publisher, this.subscriber].filter((client): client is Redis => client !== undefined);
    await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())));
  }
}
