import {
  assign,
  fromCallback,
  sendTo,
  setup,
  spawnChild,
  stopChild,
  type ActorRefFrom,
  type SnapshotFrom,
} from 'xstate';
import type { ConnectionStatus } from '../src/entities/index.js';
import type { MqttClientCommand, MqttClientReport } from '../src/mqtt/mqtt-client.actor.js';
import {
  sameBroker,
  type ConnectionFailure,
  type ConnectionSettings,
} from '../src/mqtt/mqtt-session.js';

/** The child id of the running client actor; at most one exists at a time. */
export const CLIENT_ACTOR_ID = 'client';

/** What a connection actor is started with. Durations in milliseconds. */
export interface ConnectionMachineInput {
  settings: ConnectionSettings;
  retryBaseMs: number;
  retryCapMs: number;
  connectTimeoutMs: number;
}

/** A connection actor's memory: its settings and the retry and failure bookkeeping. */
export interface ConnectionContext extends ConnectionMachineInput {
  /** Failed attempts since the last successful session. */
  retryCount: number;
  retryDelayMs: number;
  nextRetryAt: string | null;
  lastError: string | null;
  failure: ConnectionFailure | null;
  /** Why the actor is where it is, in words an operator understands. */
  reason: string;
  /** True in `error` when no automatic retry will help. */
  parked: boolean;
  lastConnectedAt: string | null;
  /** Sessions established by this actor; a resubscription does not add one. */
  sessions: number;
}

/** Events a connection actor accepts. */
export type ConnectionEvent =
  | { type: 'connection.start' }
  | { type: 'connection.stop'; reason?: string }
  | { type: 'connection.configure'; settings: ConnectionSettings }
  /** Ends the session gracefully and opens it again, so the broker resends what it holds. */
  | { type: 'connection.resume'; reason?: string }
  | MqttClientReport;

/**
 * Full-jitter backoff: a uniformly random delay between 0 and min(cap, base x 2^attempt)
 * milliseconds, `attempt` counting from 0. Spreads the reconnects of many sites after a
 * broker outage instead of letting them arrive in waves.
 */
export function fullJitterDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 52));
  return Math.floor(random() * ceiling);
}

const PARKED_HINT = 'no automatic retry will help: fix the settings or restart the connection';

type FailureEvent = Extract<ConnectionEvent, { type: 'mqtt.failed' | 'mqtt.closed' }>;

// A broker change needs a new session; a subscription change reaches a live client without
// a reconnect, and is otherwise kept for the next session.
const reconnectOnBrokerChange = {
  guard: 'haveBrokerSettingsChanged',
  target: '#connection.connecting',
  reenter: true,
  actions: [
    'applySettings',
    'resetRetries',
    { type: 'because', params: { reason: 'broker settings changed' } },
  ],
} as const;

const resubscribe = { actions: ['applySettings', 'updateSubscriptions'] } as const;

const placeholderClient = fromCallback<MqttClientCommand, ConnectionSettings>(() => undefined);

/**
 * One site's MQTT link as a statechart. The client actor (`mqttClient`, provided by the
 * runtime or a test) does the network work; this machine decides when to connect, retry,
 * park or resubscribe. Status columns, logs and live events are written by whoever observes
 * the actor, from the state and `reason`.
 */
export const connectionMachine = setup({
  types: {
    input: {} as ConnectionMachineInput,
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
  },
  actors: { mqttClient: placeholderClient },
  delays: {
    connectTimeout: ({ context }) => context.connectTimeoutMs,
    retryDelay: ({ context }) => context.retryDelayMs,
  },
  guards: {
    canRetry: ({ event }) => (event as FailureEvent).failure.retryable,
    // The site id is part of the client id and of every message, so it counts as well.
    haveBrokerSettingsChanged: ({ context, event }) =>
      event.type === 'connection.configure' &&
      (!sameBroker(context.settings.broker, event.settings.broker) ||
        context.settings.siteId !== event.settings.siteId),
  },
  actions: {
    openClient: spawnChild('mqttClient', {
      id: CLIENT_ACTOR_ID,
      input: ({ context }) => context.settings,
    }),
    closeClient: stopChild(CLIENT_ACTOR_ID),
    because: assign((_, params: { reason: string }) => ({ reason: params.reason })),
    applySettings: assign(({ context, event }) => ({
      settings: event.type === 'connection.configure' ? event.settings : context.settings,
    })),
    updateSubscriptions: sendTo(CLIENT_ACTOR_ID, ({ context }) => ({
      type: 'mqtt.subscriptions.update' as const,
      subscriptions: context.settings.subscriptions,
    })),
    recordConnected: assign(({ context }) => ({
      retryCount: 0,
      retryDelayMs: 0,
      nextRetryAt: null,
      lastError: null,
      failure: null,
      parked: false,
      reason: 'session established',
      lastConnectedAt: new Date().toISOString(),
      sessions: context.sessions + 1,
    })),
    recordFailure: assign(({ event }) => {
      const { failure } = event as FailureEvent;
      return { failure, lastError: failure.message, reason: failure.message };
    }),
    recordTimeout: assign(({ context }) => {
      const message = `no CONNACK within ${context.connectTimeoutMs} ms`;
      const failure: ConnectionFailure = {
        code: 'MQTT_CONNECT_TIMEOUT',
        message,
        retryable: true,
        exceptionType: 'AppError:MQTT_CONNECT_TIMEOUT',
        traceback: message,
      };
      return { failure, lastError: message, reason: message };
    }),
    scheduleRetry: assign(({ context }) => {
      const delay = fullJitterDelay(context.retryCount, context.retryBaseMs, context.retryCapMs);
      return {
        retryCount: context.retryCount + 1,
        retryDelayMs: delay,
        nextRetryAt: new Date(Date.now() + delay).toISOString(),
        parked: false,
      };
    }),
    park: assign(({ context }) => {
      const reason = `${context.failure?.message ?? 'refused'}: ${PARKED_HINT}`;
      return { parked: true, nextRetryAt: null, reason, lastError: reason };
    }),
    resetRetries: assign({ retryCount: 0, retryDelayMs: 0, nextRetryAt: null, parked: false }),
  },
}).createMachine({
  id: 'connection',
  initial: 'disconnected',
  context: ({ input }) => ({
    ...input,
    retryCount: 0,
    retryDelayMs: 0,
    nextRetryAt: null,
    lastError: null,
    failure: null,
    reason: 'not started',
    parked: false,
    lastConnectedAt: null,
    sessions: 0,
  }),
  on: {
    'connection.stop': {
      target: '.disconnected',
      actions: [
        'resetRetries',
        { type: 'because', params: ({ event }) => ({ reason: event.reason ?? 'stopped' }) },
      ],
    },
    'connection.configure': [reconnectOnBrokerChange, { actions: 'applySettings' }],
  },
  states: {
    disconnected: {
      entry: 'closeClient',
      on: {
        'connection.start': {
          target: 'connecting',
          actions: { type: 'because', params: { reason: 'started' } },
        },
        'connection.configure': { actions: 'applySettings' },
      },
    },
    connecting: {
      entry: ['closeClient', 'openClient'],
      after: {
        connectTimeout: { target: 'error.backingOff', actions: 'recordTimeout' },
      },
      on: {
        'mqtt.connected': { target: 'connected', actions: 'recordConnected' },
        'connection.configure': [reconnectOnBrokerChange, resubscribe],
        'mqtt.failed': [
          { guard: 'canRetry', target: 'error.backingOff', actions: 'recordFailure' },
          { target: 'error.parked', actions: 'recordFailure' },
        ],
      },
    },
    connected: {
      on: {
        'connection.configure': [reconnectOnBrokerChange, resubscribe],
        // A broker resends unacknowledged QoS 1/2 messages only when a session resumes; the
        // ingest pipeline asks for this after it had to turn messages away under overload.
        'connection.resume': {
          target: 'connecting',
          reenter: true,
          actions: {
            type: 'because',
            params: ({ event }) => ({ reason: event.reason ?? 'resuming the session' }),
          },
        },
        'mqtt.closed': [
          { guard: 'canRetry', target: 'error.backingOff', actions: 'recordFailure' },
          { target: 'error.parked', actions: 'recordFailure' },
        ],
      },
    },
    error: {
      entry: 'closeClient',
      initial: 'backingOff',
      states: {
        backingOff: {
          entry: 'scheduleRetry',
          after: {
            retryDelay: {
              target: '#connection.connecting',
              actions: { type: 'because', params: { reason: 'retrying after backoff' } },
            },
          },
        },
        parked: {
          entry: 'park',
          on: {
            'connection.start': {
              target: '#connection.connecting',
              actions: ['resetRetries', { type: 'because', params: { reason: 'restarted' } }],
            },
          },
        },
      },
    },
  },
});

/** A running connection actor. */
export type ConnectionActor = ActorRefFrom<typeof connectionMachine>;

/** A connection actor's snapshot. */
export type ConnectionSnapshot = SnapshotFrom<typeof connectionMachine>;

/** The status column value of a snapshot: the top-level state. */
export function statusOf(snapshot: ConnectionSnapshot): ConnectionStatus {
  const value = snapshot.value;
  return (typeof value === 'string' ? value : Object.keys(value)[0]) as ConnectionStatus;
}
