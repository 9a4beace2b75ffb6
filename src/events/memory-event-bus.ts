import type { EventBus, EventBusLog, EventListener, Unsubscribe } from './event-bus.ts';
import { ownerChannel, type RealtimeEvent } from './realtime-events.ts';

/** In-process fan-out for the embedded mode: the API and the worker share one process. */
export class MemoryEventBus implements EventBus {
  readonly kind = 'memory';
  private readonly channels = new Map<string, Set<EventListener>>();

  constructor(private readonly log: EventBusLog) {}

  async publish(event: RealtimeEvent): Promise<void> {
    const listeners = this.channels.get(ownerChannel(event.owner_id));
    if (!listeners) return;
    // A copy: a listener may unsubscribe (or subscribe another) while we iterate.
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch (error) {
        // One broken listener must not keep the event from the others, nor fail the publisher.
        this.log.warn({ err: error, event: event.type }, 'realtime event listener failed');
      }
    }
  }

  async subscribe(channel: string, listener: EventListener): Promise<Unsubscribe> {
    let listeners = this.channels.get(channel);
    if (!listeners) {
      listeners = new Set();
      this.channels.set(channel, listeners);
    }
    listeners.add(listener);
    return async () => {
      const current = this.channels.get(channel);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.channels.delete(channel);
    };
  }

  async close(): Promise<void> {
    this.channels.clear();
  }
}
