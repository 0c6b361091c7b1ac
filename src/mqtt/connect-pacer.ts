interface PacedRequest {
  run: () => void;
}

/**
 * Spaces out connection attempts to at most `ratePerSecond`, across every connection of the
 * process: first starts and retries alike. Without it, a broker restart sends every client's
 * first retry into the same second (full jitter spreads them over one base delay only), and
 * a thousand sites reconnect as a storm.
 */
export class ConnectPacer {
  readonly #intervalMs: number;
  readonly #queue: PacedRequest[] = [];
  #nextAt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(ratePerSecond: number) {
    this.#intervalMs = 1000 / ratePerSecond;
  }

  /** Runs `run` at the next free slot; the returned function withdraws it if still waiting. */
  request(run: () => void): () => void {
    const request = { run };
    this.#queue.push(request);
    this.#drain();
    return () => {
      const index = this.#queue.indexOf(request);
      if (index >= 0) this.#queue.splice(index, 1);
    };
  }

  /** Attempts waiting for a slot. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Drops every waiting attempt and the timer. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
  }

  #drain(): void {
    if (this.#timer) return;

    while (this.#queue.length) {
      const now = Date.now();
      if (now < this.#nextAt) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#drain();
        }, this.#nextAt - now);
        return;
      }
      this.#nextAt = now + this.#intervalMs;
      this.#queue.shift()!.run();
    }
  }
}
