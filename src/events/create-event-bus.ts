import type { Config } from '../config/config.ts';
import type { JobLogger } from '../jobs/job-queue.ts';
import type { EventBus } from './event-bus.ts';
import { MemoryEventBus } from './memory-event-bus.ts';
import { RedisEventBus } from './redis-event-bus.ts';

/** Redis pub/sub when REDIS_URL is set (workers and API processes apart), else in-process. */
export function createEventBus(config: Pick<Config, 'redis'>, log: JobLogger): EventBus {
  if (!config.redis.url) return new MemoryEventBus(log);
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
