import {
  asyncScheduler,
  retry,
  timer,
  type MonoTypeOperatorFunction,
  type SchedulerLike,
} from 'rxjs';

/** Options of retryWithBackoff; every duration in milliseconds. */
export interface BackoffOptions {
  /** Delay before the first retry; doubles on each further one. */
  baseMs: number;
  /** Longest delay between two attempts. */
  capMs: number;
  /** Called before each retry with the error and the retry number (1-based). */
  onRetry?: (error: unknown, attempt: number) => void;
  scheduler?: SchedulerLike;
}

/**
 * Resubscribes to the source after each error, forever, waiting `baseMs`, then twice as long
 * each time up to `capMs`. For work that must eventually succeed (putting held messages into
 * Redis): giving up would mean losing messages, and the caller bounds what waits meanwhile.
 */
export function retryWithBackoff<T>(options: BackoffOptions): MonoTypeOperatorFunction<T> {
  const scheduler = options.scheduler ?? asyncScheduler;
  return retry({
    delay: (error: unknown, attempt: number) => {
      options.onRetry?.(error, attempt);
      const wait = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt - 1, 30));
      return timer(wait, scheduler);
    },
  });
}
