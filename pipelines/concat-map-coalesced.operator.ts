import { Observable, type ObservableInput, type OperatorFunction, from, Subscription } from 'rxjs';

/**
 * Like `concatMap(project)` with nothing emitted, except that values arriving while a
 * projection runs are not queued one by one: they are merged (with `merge`) into the single
 * value that runs next. However long a projection takes (a write retrying through an
 * outage), at most one merged value waits, so memory is bounded by what one value can hold.
 * Completes once the source completed and the last projection finished.
 */
export function concatMapCoalesced<T>(
  project: (value: T) => ObservableInput<unknown>,
  merge: (waiting: T, next: T) => T,
): OperatorFunction<T, never> {
  return (source) =>
    new Observable<never>((subscriber) => {
      let waiting: { value: T } | undefined;
      let running: Subscription | undefined;
      let sourceDone = false;

      const runNext = () => {
        running = undefined;
        if (!waiting) {
          if (sourceDone) subscriber.complete();
          return;
        }

        const { value } = waiting;
        waiting = undefined;
        running = from(project(value)).subscribe({
          error: (error: unknown) => subscriber.error(error),
          complete: runNext,
        });
      };

      const subscription = source.subscribe({
        next: (value) => {
          waiting = waiting ? { value: merge(waiting.value, value) } : { value };
          if (!running) runNext();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          if (!running) runNext();
        },
      });

      return () => {
        subscription.unsubscribe();
        running?.unsubscribe();
      };
    });
}
