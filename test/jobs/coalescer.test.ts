import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../src/jobs/coalescer.ts';

describe('Coalescer', () => {
  it('sends calls made together as one batch, and those made meanwhile as the next', async () => {
    const batches: number[][] = [];
    const coalescer = new Coalescer(async (inputs: number[]) => {
      batches.push(inputs);
      return inputs.map((input) => input * 10);
    });
    const first = [coalescer.submit(1), coalescer.submit(2)];
    await Promise.resolve();
    const later = [coalescer.submit(3), coalescer.submit(4), coalescer.submit(5)];
    expect(await Promise.all([...first, ...later])).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([
      [1, 2],
      [3, 4, 5],
    ]);
  });

  it('runs a failed batch again call by call, so that one bad input fails alone', async () => {
    const batches: string[][] = [];
    const coalescer = new Coalescer(async (inputs: string[]) => {
      batches.push(inputs);
      if (inputs.includes('bad')) throw new Error('cannot store bad');
      return inputs.map((input) => input.toUpperCase());
    });
    const results = await Promise.allSettled([coalescer.submit('a'), coalescer.submit('bad'), coalescer.submit('c')]);
    expect(results).toEqual([
      { status: 'fulfilled', value: 'A' },
      { status: 'rejected', reason: new Error('cannot store bad') },
      { status: 'fulfilled', value: 'C' },
    ]);
    expect(batches).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });
});
