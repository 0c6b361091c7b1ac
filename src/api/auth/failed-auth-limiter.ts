/** Options of FailedAuthLimiter. */
export interface FailedAuthLimiterOptions {
  /** Failed attempts allowed per address within the window; default 10. */
  maxFailures?: number;
  /** Length of the window in milliseconds; default 60 000. */
  windowMs?: number;
  /** Addresses tracked at most; the oldest are forgotten first. Default 10 000. */
  maxTracked?: number;
}

interface Window {
  failures: number;
  resetAt: number;
}

/**
 * Counts failed authentications per client address in a fixed window and says when an
 * address must wait. It lives in process memory: each instance limits on its own, which is
 * enough to make guessing a 256-bit key pointless, and memory stays bounded by `maxTracked`.
 */
export class FailedAuthLimiter {
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #maxTracked: number;
  readonly #windows = new Map<string, Window>();

  constructor(options: FailedAuthLimiterOptions = {}) {
    this.#maxFailures = options.maxFailures ?? 10;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxTracked = options.maxTracked ?? 10_000;
  }

  /** Milliseconds the address must wait before trying again, or 0 when it may try now. */
  retryAfterMs(address: string, now = Date.now()): number {
    const window = this.#windows.get(address);
    if (!window || window.resetAt <= now) return 0;
    return window.failures >= this.#maxFailures ? window.resetAt - now : 0;
  }

  /** Records one failed attempt from the address. */
  recordFailure(address: string, now = Date.now()): void {
    const window = this.#windows.get(address);
    if (window && window.resetAt > now) {
      window.failures += 1;
      return;
    }

    this.#windows.delete(address);
    this.#evictOldest();
    this.#windows.set(address, { failures: 1, resetAt: now + this.#windowMs });
  }

  #evictOldest(): void {
    // Maps iterate in insertion order, so the first key is the oldest window.
    while (this.#windows.size >= this.#maxTracked) {
      const oldest = this.#windows.keys().next();
      if (oldest.done) return;
      this.#windows.delete(oldest.value);
    }
  }
}
