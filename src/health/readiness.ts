import type { ReadinessCheck } from '../http/readiness-check.ts';

export type { ReadinessCheck };

export interface ComponentState {
  name: string;
  status: 'up' | 'down';
  target: string;
  latency_ms: number;
  error?: string;
}

const CHECK_TIMEOUT_MS = 2_000;

export async function checkComponents(checks: readonly ReadinessCheck[]): Promise<ComponentState[]> {
  return Promise.all(checks.map(checkOne));
}

async function checkOne(component: ReadinessCheck): Promise<ComponentState> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`));
    }, CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([component.check(controller.signal), timeout]);
    return { name: component.name, status: 'up', target: component.target, latency_ms: elapsed(started) };
  } catch (error) {
    return {
      name: component.name,
      status: 'down',
      target: component.target,
      latency_ms: elapsed(started),
      // Driver messages can hold hosts and user names but not secrets; the first line is enough.
      error: (error instanceof Error ? error.message : String(error)).split('\n')[0],
    };
  } finally {
    clearTimeout(timer);
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
