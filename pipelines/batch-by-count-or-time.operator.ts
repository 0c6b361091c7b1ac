import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';

/**
 * Groups values into arrays of at most `maxCount`, emitting a group as soon as it is full or
 * `maxWaitMs` after its first value arrived, whichever comes first. Unlike `bufferTime` the
 * clock starts with the first value, so a quiet stream emits nothing (no empty arrays) and a
 * lone value waits at most `maxWaitMs`. A partial group is emitted when the source completes;
 * on error the partial group is discarded with the error passed on.
 */
export function batchByCountOrTime<T>(
  maxCount: number,
  maxWaitMs: number,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<T, T[]> {
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let batch: T[] = [];
      let timer: Subscription | undefined;

      const emit = () => {
        timer?.unsubscribe();
        timer = undefined;
        if (batch.length === 0) return;

        const full = batch;
        batch = [];
        subscriber.next(full);
      };

      const subscription = source.subscribe({
        next: (value) => {
          batch.push(value);
          if (batch.length >= maxCount) emit();
          else timer ??= scheduler.schedule(emit, maxWaitMs);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          emit();
          subscriber.complete();
        },
      });

      return () => {
        timer?.unsubscribe();
        subscription.unsubscribe();
      };
    });
}
