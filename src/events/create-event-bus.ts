import type { Config } from '../config/config.ts';
import type { JobLogger } from '../jobs/job-queue.ts';
import type { EventBus } from './event-bus.ts';
import { MemoryEventBus } from './memory-event-bus.ts';

/**
 * Redis pub/sub when REDIS_URL is set (workers and API processes apart), else in-process. The
 * Redis client is loaded only then: a process without Redis does not pay for it at start.
 */
export async function createEventBus(config: Pick<Config, 'redis'>, log: JobLogger): Promise<EventBus> {
  if (!config.redis.url) return new MemoryEventBus(log);
  const { RedisEventBus } = await import('./redis-event-bus.ts');
  let lastWarning = 0;
  return new RedisEventBus({
    url: config.redis.url,
    prefix: config.redis.keyPrefix,
    log,
    onError: (error) => {
      // ioredis reports every reconnect attempt; one line a minute is enough to notice.
      if (Date.now() - lastWarning < 60_000) return;
      lastWarning = Date.now();
      log.warn({ err: error }, 'realtime event bus: redis connection error');
    },
  });
}
