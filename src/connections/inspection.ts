import type { Observable } from 'rxjs';

/** One recorded transition of a live actor, for the machine visualizer. */
export interface ActorTransition {
  at: string;
  event: string;
  from: string;
  to: string;
  reason?: string;
}

/** A live connection actor (or the supervisor) as the visualizer shows it. */
export interface LiveActorView {
  /** `supervisor`, or `connection:<connection id>`. */
  actorId: string;
  machine: 'connection' | 'supervisor';
  siteId?: number;
  connectionId?: number;
  /** The current state value, as XState reports it (a string or a nested object). */
  state: unknown;
  context: {
    retryCount?: number;
    nextRetryAt?: string | null;
    lastError?: string | null;
    [key: string]: unknown;
  };
  /** Newest last, bounded. */
  transitions: ActorTransition[];
  stopped: boolean;
}

/** What the supervisor runtime offers the visualizer: a snapshot and a stream of changes. */
export interface MachineInspectionSource {
  listActors(): LiveActorView[];
  readonly changes$: Observable<LiveActorView>;
}
