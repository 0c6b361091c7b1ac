import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';

/** One received message as the topic catalogue sees it. */
export interface TopicObservation {
  siteId: number;
  topic: string;
  payload: Buffer;
  receivedAt: Date;
  /** True when the topic is configured but no parser can take it. */
  noParser?: boolean;
}

/** What the catalogue learned about one topic of one site since the last flush. */
export interface TopicStats {
  siteId: number;
  topicPath: string;
  firstSeenAt: Date;
  lastSeenAt: Date;
  messageCount: number;
  /** Sum of payload sizes in bytes, so the stored running average stays exact. */
  payloadBytes: number;
  /** The last payload seen; only this one is decoded for the sample, at write time. */
  lastPayload: Buffer;
  noParser: boolean;
}

/**
 * Folds observations into per-(site, topic) counts and emits them as one array at most every
 * `flushMs` (timed from the first observation after a flush), or at once when `maxTopics`
 * distinct topics are held, so memory stays bounded however many topics a broker carries.
 * The last partial aggregate is emitted when the source completes.
 */
export function aggregateTopicStats(
  flushMs: number,
  maxTopics: number,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<TopicObservation, TopicStats[]> {
  return (source) =>
    new Observable<TopicStats[]>((subscriber) => {
      let stats = new Map<string, TopicStats>();
      let timer: Subscription | undefined;

      const flush = () => {
        timer?.unsubscribe();
        timer = undefined;
        if (stats.size === 0) return;

        const flushed = [...stats.values()];
        stats = new Map();
        subscriber.next(flushed);
      };

      const subscription = source.subscribe({
        next: (observation) => {
          foldObservation(stats, observation);
          if (stats.size >= maxTopics) flush();
          else timer ??= scheduler.schedule(flush, flushMs);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          flush();
          subscriber.complete();
        },
      });

      return () => {
        timer?.unsubscribe();
        subscription.unsubscribe();
      };
    });
}

function foldObservation(stats: Map<string, TopicStats>, observation: TopicObservation): void {
  const key = `${observation.siteId}\u0000${observation.topic}`;
  const known = stats.get(key);
  if (known === undefined) {
    stats.set(key, {
      siteId: observation.siteId,
      topicPath: observation.topic,
      firstSeenAt: observation.receivedAt,
      lastSeenAt: observation.receivedAt,
      messageCount: 1,
      payloadBytes: observation.payload.length,
      lastPayload: observation.payload,
      noParser: observation.noParser ?? false,
    });
    return;
  }

  known.messageCount += 1;
  known.payloadBytes += observation.payload.length;
  if (observation.receivedAt < known.firstSeenAt) known.firstSeenAt = observation.receivedAt;
  if (observation.receivedAt >= known.lastSeenAt) {
    known.lastSeenAt = observation.receivedAt;
    known.lastPayload = observation.payload;
  }
  known.noParser ||= observation.noParser ?? false;
}
