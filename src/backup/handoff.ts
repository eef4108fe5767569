// A bounded handoff from a producer that runs inside a callback (a transaction) to an async
// iterator, so a slow consumer holds the producer back instead of letting rows pile up.

export class Handoff<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;
  #ended = false;
  #error: unknown;
  #closed = false;
  #wakeConsumer: (() => void) | undefined;
  #wakeProducer: (() => void) | undefined;

  constructor(capacity = 1) {
    this.#capacity = capacity;
  }

  /** Waits until there is room; throws once the consumer has stopped reading. */
  async put(item: T): Promise<void> {
    while (this.#items.length >= this.#capacity && !this.#closed) {
      await new Promise<void>((wake) => { this.#wakeProducer = wake; });
    }
    if (this.#closed) throw new Error('the reader stopped');
    this.#items.push(item);
    this.#wake();
  }

  /** Ends the stream; with an error, the consumer's next read throws it. */
  end(error?: unknown): void {
    this.#ended = true;
    this.#error = error;
    this.#wake();
  }

  /** The consumer stopped: the producer's next put throws, so its transaction rolls back. */
  close(): void {
    this.#closed = true;
    this.#items.length = 0;
    const wake = this.#wakeProducer;
    this.#wakeProducer = undefined;
    wake?.();
  }

  async *drain(): AsyncGenerator<T> {
    try {
      for (;;) {
        const item = this.#items.shift();
        if (item !== undefined) {
          const wake = this.#wakeProducer;
          this.#wakeProducer = undefined;
          wake?.();
          yield item;
          continue;
        }
        if (this.#ended) {
          if (this.#error !== undefined) throw this.#error;
          return;
        }
        await new Promise<void>((wake) => { this.#wakeConsumer = wake; });
      }
    } finally {
      this.close();
    }
  }

  #wake(): void {
    const wake = this.#wakeConsumer;
    this.#wakeConsumer = undefined;
    wake?.();
  }
}
