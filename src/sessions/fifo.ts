// Per-key FIFO mutex: waiters on one key run one at a time, in the order they asked.

export class KeyedFifo {
  readonly #tails = new Map<string, Promise<void>>();

  /** Resolves with the release function when every earlier holder of `key` has released. */
  async acquire(key: string): Promise<() => void> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    return () => {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
  }
}
