interface Call<Input, Output> {
  input: Input;
  resolve: (output: Output) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for one kind of statement: a call made while the previous batch is in flight
 * waits for it and then goes out with every other call that arrived meanwhile, as one batch.
 * An idle coalescer runs a call in the same tick (a microtask, no timer); under load, many calls
 * share one round trip. A batch that fails is run again call by call, so that each call gets
 * its own answer or error.
 */
export class Coalescer<Input, Output> {
  private pending: Call<Input, Output>[] = [];
  /** One batch at a time: the next one gathers while this one runs. */
  private running = false;
  private scheduled = false;

  constructor(
    /** Runs one batch; answers one output per input, in the same order. */
    private readonly runBatch: (inputs: Input[]) => Promise<Output[]>,
    private readonly maxBatch = 100,
  ) {}

  submit(input: Input): Promise<Output> {
    return new Promise<Output>((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      // Drained after the current task's synchronous calls, so that those go out together.
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => {
          this.scheduled = false;
          this.drain();
        });
      }
    });
  }

  /** Runs one batch; settles its calls when it succeeds, and the lone call of a batch of one either way. */
  private async settle(batch: Call<Input, Output>[]) {
    let outputs: Output[];
    try {
      outputs = await this.runBatch(batch.map((entry) => entry.input));
    } catch (error) {
      if (batch.length === 1) batch[0]?.reject(error);
      throw error;
    }
    batch.forEach((entry, index) => entry.resolve(outputs[index] as Output));
  }

  private drain(): void {
    if (this.running || this.pending.length === 0) return;
    const batch = this.pending.splice(0, this.maxBatch);
    this.running = true;
    this.settle(batch)
      .catch(async () => {
        // One call's bad input (a payload the database cannot store) must not fail the others:
        // a failed batch is run again one call at a time, each settling on its own.
        if (batch.length === 1) return;
        for (const entry of batch) await this.settle([entry]).catch(() => undefined);
      })
      .finally(() => {
        this.running = false;
        this.drain();
      });
  }
}
