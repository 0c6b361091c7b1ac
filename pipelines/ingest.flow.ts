import {
  concatMap,
  defer,
  filter,
  ignoreElements,
  map,
  merge,
  Observable,
  Subject,
  take,
  tap,
  timeout,
  type ObservableInput,
  type SchedulerLike,
} from 'rxjs';
import type { ReceivedMessage } from '../src/mqtt/received-message.js';
import type { RouteDecision, SkipReason } from '../src/ingest/topic-routes.js';
import { admitWithinLimit, type PendingCounter } from './admit-within-limit.operator.js';
import { concatMapCoalesced } from './concat-map-coalesced.operator.js';
import {
  aggregateTopicStats,
  mergeTopicStats,
  type TopicObservation,
  type TopicStats,
} from './aggregate-topic-stats.operator.js';
import { batchByCountOrTime } from './batch-by-count-or-time.operator.js';
import { retryWithBackoff } from './retry-with-backoff.operator.js';

/** A message on its way to the queue, with the parser chosen for it. */
export interface RoutedMessage {
  message: ReceivedMessage;
  parserName: string;
}

/** Why a message was lost: QoS 0 turned away, or QoS 1/2 left with the broker. */
export type DropReason = 'backpressure' | 'backpressure_unacked';

/** Bounds and timings of the flow; durations in milliseconds. */
export interface IngestLimits {
  /** Messages held in memory, received but not yet in Redis. */
  pendingMessages: number;
  batchMaxMessages: number;
  batchMaxWaitMs: number;
  catalogueFlushMs: number;
  catalogueMaxTopics: number;
  /** First wait before retrying a failed enqueue or catalogue write; doubles up to the cap. */
  retryBaseMs: number;
  retryCapMs: number;
  /** An enqueue not answered within this is abandoned and tried again. */
  enqueueTimeoutMs: number;
}

/** Callbacks the flow reports through (metrics, logs); all optional. */
export interface IngestHooks {
  received(message: ReceivedMessage): void;
  routed(message: ReceivedMessage): void;
  skipped(message: ReceivedMessage, reason: SkipReason): void;
  dropped(message: ReceivedMessage, reason: DropReason): void;
  enqueued(batch: RoutedMessage[]): void;
  enqueueRetry(error: unknown, attempt: number): void;
  catalogueRetry(error: unknown, attempt: number): void;
}

/** What the flow needs from the outside world. */
export interface IngestFlowOptions {
  decide(message: ReceivedMessage): RouteDecision;
  /** Puts one batch into the queue; resolves (or emits) once it is safe in Redis. */
  enqueue(batch: RoutedMessage[]): ObservableInput<unknown>;
  writeCatalogue(stats: TopicStats[]): ObservableInput<unknown>;
  pending: PendingCounter;
  limits: IngestLimits;
  hooks?: Partial<IngestHooks>;
  scheduler?: SchedulerLike;
}

/**
 * The ingest pipeline from received messages to the queue, with every effect given from
 * outside so it runs on virtual time in tests. Each message is counted into the topic
 * catalogue, then routed, skipped (catalogue only, acknowledged at once) or, past the
 * pending limit, turned away. Routed messages are batched by count and time; a batch is
 * acknowledged to the broker only after `enqueue` resolved, and a failed enqueue is retried
 * with backoff forever: the pending limit is what bounds memory meanwhile.
 *
 * Turned away at the limit: a QoS 0 message is dropped (the broker would not resend it
 * anyway); a QoS 1/2 message is not acknowledged and not held, so the broker keeps it in the
 * session and sends it again when the session resumes. Both count as dropped.
 *
 * Emits each batch once enqueued and acknowledged; completes once the source completed and
 * everything held was enqueued and the catalogue written.
 */
export function ingestFlow(
  messages$: Observable<ReceivedMessage>,
  options: IngestFlowOptions,
): Observable<RoutedMessage[]> {
  return defer(() => {
    const observations = new Subject<TopicObservation>();
    const catalogue$ = observations.pipe(
      aggregateTopicStats(
        options.limits.catalogueFlushMs,
        options.limits.catalogueMaxTopics,
        options.scheduler,
      ),
      // Flushes produced while a write is still retrying merge into one that waits, so a
      // database outage costs at most one flush's worth of memory, not one per interval.
      concatMapCoalesced((stats) => writeWithRetry(options, stats), mergeTopicStats),
    );

    const routed$ = messages$.pipe(
      map((message) => ({ message, decision: options.decide(message) })),
      tap({
        next: ({ message, decision }) => {
          options.hooks?.received?.(message);
          observations.next(observationOf(message, decision));
        },
        complete: () => observations.complete(),
        error: () => observations.complete(),
      }),
      filter(({ message, decision }) => {
        if (decision.kind === 'route') return true;
        // Catalogue-only messages are acknowledged at once: they are already counted in
        // memory, and a crash loses at most one flush interval of catalogue statistics.
        options.hooks?.skipped?.(message, decision.reason);
        message.acknowledge();
        return false;
      }),
      map(({ message, decision }) => ({
        message,
        parserName: decision.kind === 'route' ? decision.parserName : '',
      })),
      admitWithinLimit(options.pending, options.limits.pendingMessages),
      filter(({ admitted, value }) => {
        if (admitted) options.hooks?.routed?.(value.message);
        else turnAway(options, value.message);
        return admitted;
      }),
      map(({ value }) => value),
    );

    const batches$ = routed$.pipe(
      batchByCountOrTime(
        options.limits.batchMaxMessages,
        options.limits.batchMaxWaitMs,
        options.scheduler,
      ),
      concatMap((batch) => enqueueWithRetry(options, batch)),
      tap((batch) => acknowledgeBatch(options, batch)),
    );

    return merge(catalogue$, batches$);
  });
}

function observationOf(message: ReceivedMessage, decision: RouteDecision): TopicObservation {
  return {
    siteId: message.siteId,
    topic: message.topic,
    payload: message.payload,
    receivedAt: message.receivedAt,
    noParser: decision.kind === 'skip' && decision.reason === 'no_parser',
  };
}

function turnAway(options: IngestFlowOptions, message: ReceivedMessage): void {
  // No acknowledge() for QoS 1/2: the broker keeps the message and redelivers it.
  options.hooks?.dropped?.(message, message.qos === 0 ? 'backpressure' : 'backpressure_unacked');
}

function enqueueWithRetry(
  options: IngestFlowOptions,
  batch: RoutedMessage[],
): Observable<RoutedMessage[]> {
  return defer(() => options.enqueue(batch)).pipe(
    take(1),
    timeout({ first: options.limits.enqueueTimeoutMs, ...schedulerOption(options) }),
    retryWithBackoff({
      baseMs: options.limits.retryBaseMs,
      capMs: options.limits.retryCapMs,
      onRetry: (error, attempt) => options.hooks?.enqueueRetry?.(error, attempt),
      ...schedulerOption(options),
    }),
    map(() => batch),
  );
}

function writeWithRetry(options: IngestFlowOptions, stats: TopicStats[]): Observable<never> {
  return defer(() => options.writeCatalogue(stats)).pipe(
    retryWithBackoff({
      baseMs: options.limits.retryBaseMs,
      capMs: options.limits.retryCapMs,
      onRetry: (error, attempt) => options.hooks?.catalogueRetry?.(error, attempt),
      ...schedulerOption(options),
    }),
    ignoreElements(),
  );
}

function acknowledgeBatch(options: IngestFlowOptions, batch: RoutedMessage[]): void {
  for (const { message } of batch) message.acknowledge();
  options.pending.release(batch.length);
  options.hooks?.enqueued?.(batch);
}

function schedulerOption(options: IngestFlowOptions): { scheduler?: SchedulerLike } {
  return options.scheduler ? { scheduler: options.scheduler } : {};
}
