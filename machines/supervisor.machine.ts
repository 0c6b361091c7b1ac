import {
  assign,
  fromCallback,
  fromPromise,
  setup,
  type ActorRefFrom,
  type EventObject,
} from 'xstate';
import type { ConfigListenerReport } from '../src/connections/config-listener.actor.js';
import type { DesiredState } from '../src/connections/connection-store.js';

/** What the supervisor is started with. Durations in milliseconds. */
export interface SupervisorInput {
  /** The periodic sweep, a safety net behind LISTEN/NOTIFY. */
  reconcileIntervalMs: number;
  /** How soon a failed reconcile is tried again. */
  reconcileRetryMs: number;
}

/** The supervisor's memory. */
export interface SupervisorContext extends SupervisorInput {
  /** A change arrived while a reconcile was running: run another right after. */
  pending: boolean;
  listening: boolean;
  reconciles: number;
  lastError: string | null;
  reason: string;
}

/** Events the supervisor accepts. */
export type SupervisorEvent =
  | { type: 'supervisor.reconcile'; reason?: string }
  | { type: 'supervisor.stop' }
  | ConfigListenerReport;

const placeholderListener = fromCallback<EventObject, void>(() => undefined);

const placeholderLoader = fromPromise<DesiredState>(() =>
  Promise.resolve({ connections: [], expectedIntervalsMs: new Map() }),
);

/**
 * Reconciles the database with the running connection actors: at start, at once when the
 * config listener reports a change (or comes back after a drop), and on a periodic sweep.
 * Changes that arrive during a reconcile coalesce into one more reconcile. `loadDesiredState`
 * reads the database; `applyDesiredState` starts, reconfigures and stops connection actors.
 */
export const supervisorMachine = setup({
  types: {
    input: {} as SupervisorInput,
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
  },
  actors: { configListener: placeholderListener, loadDesiredState: placeholderLoader },
  delays: {
    sweepInterval: ({ context }) => context.reconcileIntervalMs,
    reconcileRetry: ({ context }) => context.reconcileRetryMs,
  },
  guards: {
    isReconcilePending: ({ context }) => context.pending,
    isListenerBack: ({ event }) => event.type === 'supervisor.listener.up' && event.reconnected,
  },
  actions: {
    // Provided by the runtime: starts, reconfigures and stops connection actors.
    applyDesiredState: (_, _params: { desired: DesiredState }) => undefined,
    because: assign((_, params: { reason: string }) => ({ reason: params.reason })),
    markPending: assign({ pending: true }),
    startReconcile: assign(({ context }) => ({
      pending: false,
      reconciles: context.reconciles + 1,
    })),
    recordReconciled: assign({ lastError: null }),
    recordReconcileFailure: assign(({ event }) => ({
      lastError: String((event as { error?: unknown }).error),
    })),
    markListening: assign({ listening: true }),
    markNotListening: assign({ listening: false }),
  },
}).createMachine({
  id: 'supervisor',
  initial: 'running',
  context: ({ input }) => ({
    ...input,
    pending: false,
    listening: false,
    reconciles: 0,
    lastError: null,
    reason: 'starting',
  }),
  states: {
    running: {
      invoke: { id: 'configListener', src: 'configListener' },
      initial: 'reconciling',
      on: {
        'supervisor.stop': {
          target: 'stopped',
          actions: { type: 'because', params: { reason: 'stopped' } },
        },
        'supervisor.listener.down': { actions: 'markNotListening' },
      },
      states: {
        reconciling: {
          entry: 'startReconcile',
          invoke: {
            src: 'loadDesiredState',
            onDone: {
              target: 'settling',
              actions: [
                'recordReconciled',
                { type: 'applyDesiredState', params: ({ event }) => ({ desired: event.output }) },
              ],
            },
            onError: { target: 'waitingToRetry', actions: 'recordReconcileFailure' },
          },
          on: {
            'supervisor.reconcile': { actions: 'markPending' },
            'supervisor.config.changed': { actions: 'markPending' },
            'supervisor.listener.up': [
              { guard: 'isListenerBack', actions: ['markListening', 'markPending'] },
              { actions: 'markListening' },
            ],
          },
        },
        settling: {
          always: [{ guard: 'isReconcilePending', target: 'reconciling' }, { target: 'idle' }],
        },
        idle: {
          after: {
            sweepInterval: {
              target: 'reconciling',
              actions: { type: 'because', params: { reason: 'periodic sweep' } },
            },
          },
          on: {
            'supervisor.reconcile': {
              target: 'reconciling',
              actions: { type: 'because', params: { reason: 'reconcile requested' } },
            },
            'supervisor.config.changed': {
              target: 'reconciling',
              actions: { type: 'because', params: { reason: 'configuration changed' } },
            },
            'supervisor.listener.up': [
              {
                guard: 'isListenerBack',
                target: 'reconciling',
                actions: [
                  'markListening',
                  { type: 'because', params: { reason: 'listener back' } },
                ],
              },
              { actions: 'markListening' },
            ],
          },
        },
        waitingToRetry: {
          after: {
            reconcileRetry: {
              target: 'reconciling',
              actions: { type: 'because', params: { reason: 'retrying failed reconcile' } },
            },
          },
          on: {
            'supervisor.reconcile': 'reconciling',
            'supervisor.config.changed': 'reconciling',
            'supervisor.listener.up': [
              { guard: 'isListenerBack', target: 'reconciling', actions: 'markListening' },
              { actions: 'markListening' },
            ],
          },
        },
      },
    },
    stopped: { type: 'final' },
  },
});

/** A running supervisor actor. */
export type SupervisorActor = ActorRefFrom<typeof supervisorMachine>;
