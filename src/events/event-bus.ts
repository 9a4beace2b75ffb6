import type { RealtimeEvent } from './realtime-events.ts';

export type EventListener = (event: RealtimeEvent) => void;

/**
 * The realtime fan-out port. Events are published on the channel of their owner
 * (`ownerChannel`); a subscriber listens to one channel. Memory: within this process
 * (embedded mode). Redis pub/sub: across every process sharing the Redis (scaled mode).
 * Delivery is at most once and in publish order per publisher; the jobs table stays the record.
 */
export interface EventBus {
  readonly kind: 'memory' | 'redis';
  /** Resolves once the event is handed over (not when it is delivered). */
  publish(event: RealtimeEvent): Promise<void>;
  /** Resolves once the subscription is active: events published afterwards reach `listener`. */
  subscribe(channel: string, listener: EventListener): Promise<Unsubscribe>;
  close(): Promise<void>;
}

export type Unsubscribe = () => Promise<void>;

/** Where a bus reports a listener that threw (the other listeners still get the event). */
export type EventBusLog = { warn(details: object, message: string): void };
