import { Subject, type Observable } from 'rxjs';
import type { InspectionEvent } from 'xstate';
import type { ActorTransition, LiveActorView, MachineInspectionSource } from './inspection.js';

/** Transitions kept per actor for the visualizer. */
export const TRANSITIONS_KEPT = 50;

/** How an actor's snapshot context becomes the view's context (never credentials). */
export type ContextView = (context: unknown) => LiveActorView['context'];

/** Who an inspected actor is. */
export interface InspectedActor {
  actorId: string;
  machine: LiveActorView['machine'];
  siteId?: number;
  connectionId?: number;
  contextView: ContextView;
}

interface MachineSnapshotLike {
  value: unknown;
  context: unknown;
  status: string;
}

/**
 * Feeds the machine visualizer from XState's inspection API: each tracked actor is created
 * with `inspect: inspector.observe(...)`, and every snapshot of its root machine updates its
 * view. A change of state value is kept as a transition with the event and the reason.
 */
export class MachineInspector implements MachineInspectionSource {
  readonly #views = new Map<string, LiveActorView>();
  readonly #changes = new Subject<LiveActorView>();
  readonly changes$: Observable<LiveActorView> = this.#changes.asObservable();

  /** The `inspect` option for the actor described by `actor`. */
  observe(actor: InspectedActor): (event: InspectionEvent) => void {
    return (event) => {
      if (event.type !== '@xstate.snapshot') return;
      // Only the root machine's snapshots: the client actors inside carry no state value.
      if (event.actorRef.sessionId !== event.rootId) return;

      this.#record(actor, event.snapshot as unknown as MachineSnapshotLike, event.event.type);
    };
  }

  /** Marks an actor stopped and drops it from the list. */
  forget(actorId: string): void {
    const view = this.#views.get(actorId);
    if (!view) return;

    this.#views.delete(actorId);
    this.#changes.next({ ...view, stopped: true });
  }

  listActors(): LiveActorView[] {
    return [...this.#views.values()].map((view) => ({
      ...view,
      transitions: [...view.transitions],
    }));
  }

  /** Ends the change stream. */
  close(): void {
    this.#changes.complete();
  }

  #record(actor: InspectedActor, snapshot: MachineSnapshotLike, eventType: string): void {
    const previous = this.#views.get(actor.actorId);
    const context = actor.contextView(snapshot.context);
    const transitions = previous?.transitions ?? [];
    const from = previous ? stateName(previous.state) : 'none';
    const to = stateName(snapshot.value);
    if (from !== to) transitions.push(transitionOf(eventType, from, to, context));
    if (transitions.length > TRANSITIONS_KEPT)
      transitions.splice(0, transitions.length - TRANSITIONS_KEPT);

    const view: LiveActorView = {
      actorId: actor.actorId,
      machine: actor.machine,
      ...(actor.siteId === undefined ? {} : { siteId: actor.siteId }),
      ...(actor.connectionId === undefined ? {} : { connectionId: actor.connectionId }),
      state: snapshot.value,
      context,
      transitions,
      stopped: snapshot.status !== 'active',
    };
    this.#views.set(actor.actorId, view);
    this.#changes.next(view);
  }
}

function transitionOf(
  event: string,
  from: string,
  to: string,
  context: LiveActorView['context'],
): ActorTransition {
  const reason = typeof context.reason === 'string' ? context.reason : undefined;
  return {
    at: new Date().toISOString(),
    event,
    from,
    to,
    ...(reason === undefined ? {} : { reason }),
  };
}

/** `error.backingOff` for `{ error: 'backingOff' }`; the value itself for a string. */
export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (!value || typeof value !== 'object') return String(value);

  const [key, child] = Object.entries(value as Record<string, unknown>)[0] ?? ['', ''];
  const rest = stateName(child);
  return rest ? `${key}.${rest}` : key;
}
