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

/**
 * Largest payload kept as a topic's sample, in bytes. A larger one is not kept in memory at
 * all, only its size: the catalogue stores a small marker object for it.
 */
export const SAMPLE_PAYLOAD_LIMIT = 4_096;

/** What the catalogue learned about one topic of one site since the last flush. */
export interface TopicStats {
  siteId: number;
  topicPath: string;
  firstSeenAt: Date;
  lastSeenAt: Date;
  messageCount: number;
  /** Sum of payload sizes in bytes, so the stored running average stays exact. */
  payloadBytes: number;
  /**
   * The last payload seen, when at most SAMPLE_PAYLOAD_LIMIT bytes; only this one is decoded
   * for the sample, at write time.
   */
  lastPayload: Buffer | undefined;
  /** Size of the last payload seen, in bytes. */
  lastPayloadBytes: number;
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
      ...lastPayloadOf(observation.payload),
      noParser: observation.noParser ?? false,
    });
    return;
  }

  known.messageCount += 1;
  known.payloadBytes += observation.payload.length;
  if (observation.receivedAt < known.firstSeenAt) known.firstSeenAt = observation.receivedAt;
  if (observation.receivedAt >= known.lastSeenAt) {
    known.lastSeenAt = observation.receivedAt;
    Object.assign(known, lastPayloadOf(observation.payload));
  }
  known.noParser ||= observation.noParser ?? false;
}

function lastPayloadOf(payload: Buffer): Pick<TopicStats, 'lastPayload' | 'lastPayloadBytes'> {
  // A copy, so a small sample does not pin a large receive buffer it was sliced from.
  const kept = payload.length <= SAMPLE_PAYLOAD_LIMIT ? Buffer.from(payload) : undefined;
  return { lastPayload: kept, lastPayloadBytes: payload.length };
}

/**
 * Merges two flushes into one, as if every observation of both had been folded together;
 * for flushes that must wait while an earlier write is still retrying.
 */
export function mergeTopicStats(waiting: TopicStats[], next: TopicStats[]): TopicStats[] {
  const merged = new Map<string, TopicStats>();
  for (const entry of [...waiting, ...next]) {
    const key = `${entry.siteId}\u0000${entry.topicPath}`;
    const known = merged.get(key);
    if (!known) {
      merged.set(key, { ...entry });
      continue;
    }

    known.messageCount += entry.messageCount;
    known.payloadBytes += entry.payloadBytes;
    if (entry.firstSeenAt < known.firstSeenAt) known.firstSeenAt = entry.firstSeenAt;
    if (entry.lastSeenAt >= known.lastSeenAt) {
      known.lastSeenAt = entry.lastSeenAt;
      known.lastPayload = entry.lastPayload;
      known.lastPayloadBytes = entry.lastPayloadBytes;
    }
    known.noParser ||= entry.noParser;
  }
  return [...merged.values()];
}
