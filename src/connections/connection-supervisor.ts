import type { MikroORM } from '@mikro-orm/postgresql';
import type { Observable } from 'rxjs';
import { createActor, fromPromise, waitFor } from 'xstate';
import { supervisorMachine, type SupervisorActor } from '../../machines/supervisor.machine.js';
import type { Config } from '../config.js';
import { CredentialCipher } from '../crypto.js';
import type { EventPublisher } from '../events/event-bus.js';
import type { Logging } from '../logger.js';
import { ConnectPacer } from '../mqtt/connect-pacer.js';
import { createMqttClientActor } from '../mqtt/mqtt-client.actor.js';
import type { ReceivedMessage } from '../mqtt/received-message.js';
import type { Metrics } from '../observability/metrics.js';
import { createConfigListener } from './config-listener.actor.js';
import { HealthTracker, type ConnectionHealth } from './connection-health.js';
import { ConnectionRegistry } from './connection-registry.js';
import { ConnectionStore, type DesiredState } from './connection-store.js';
import { LeaseKeeper } from './lease-keeper.js';
import type { LeaseStore } from './lease-store.js';
import type { MachineInspectionSource } from './inspection.js';
import { MachineInspector } from './machine-inspection.js';
import { MessageOutlet } from './message-outlet.js';

/** What the connection supervisor needs from the engine. */
export interface ConnectionSupervisorDependencies {
  config: Config;
  orm: MikroORM;
  logging: Pick<Logging, 'root' | 'connection'>;
  events: EventPublisher;
  metrics: Metrics;
  /**
   * Leases shared with other instances: when given, this supervisor runs only the
   * connections whose lease it holds, about its share of them. Without, it runs them all.
   */
  leases?: LeaseStore;
}

/** The running supervisor: messages out, health and inspection for the API, and a stop. */
export interface ConnectionSupervisor {
  /**
   * Every received message of every connection, hot; messages that arrive before the first
   * subscriber are held for it (up to PENDING_MESSAGES_LIMIT). QoS 1/2 messages must be
   * acknowledged once safe; unacknowledged ones are redelivered on the next session.
   */
  messages$: Observable<ReceivedMessage>;
  inspection: MachineInspectionSource;
  /** A connection's live health: connected, silent or receiving, last signs of life. */
  connectionHealth(connectionId: number): ConnectionHealth;
  /** True when the connection is connected but has been silent for too long. */
  isSilent(connectionId: number): boolean;
  /** Connection ids this instance runs: all desired ones without leases. */
  owned(): number[];
  /** Reconciles now instead of waiting for a notification or the sweep. */
  reconcile(): void;
  /**
   * Runs `prepare` after each reconcile has loaded the configuration and before it changes
   * any subscription. The ingest pipeline reloads its topic routes here: otherwise the first
   * messages of a newly configured topic could arrive before the pipeline knows the topic,
   * and be catalogued without being parsed.
   */
  beforeSubscribing(prepare: () => Promise<void>): void;
  /**
   * Ends a connected session gracefully and opens it again, so the broker resends the QoS 1/2
   * messages it still holds for us; a connection that is not connected is left alone.
   */
  resumeSession(connectionId: number, reason: string): void;
  /** Closes every MQTT client (no UNSUBSCRIBE), the listener and the timers. */
  stop(): Promise<void>;
}

/**
 * Starts the supervisor role: a supervisor actor that keeps one connection actor per active
 * connection of an active site. Resolves after the first reconcile has been applied (or has
 * failed and been scheduled again).
 */
export async function startConnectionSupervisor(
  deps: ConnectionSupervisorDependencies,
): Promise<ConnectionSupervisor> {
  const { config, logging } = deps;
  const log = logging.connection.child({ component: 'supervisor' });
  const messages = new MessageOutlet(config.PENDING_MESSAGES_LIMIT, log);
  const store = new ConnectionStore(deps.orm);
  const inspector = new MachineInspector();
  const health = new HealthTracker({ config, store, events: deps.events, logger: log });
  const pacer = new ConnectPacer(config.ADMISSION_RATE_PER_SECOND);
  // The registry asks the keeper for tokens and the keeper drives the registry.
  const tokens: { keeper?: LeaseKeeper } = {};
  const registry = buildRegistry(deps, { store, inspector, health, messages, pacer }, (id) =>
    tokens.keeper?.tokenOf(id),
  );
  const keeper = deps.leases
    ? new LeaseKeeper({ leases: deps.leases, store, registry, logger: log })
    : undefined;
  if (keeper) tokens.keeper = keeper;

  const hooks: SupervisorHooks = {};
  const supervisor = startSupervisorActor(deps, {
    store,
    target: keeper ?? registry,
    inspector,
    hooks,
  });
  await waitFor(supervisor, (snapshot) => !snapshot.matches({ running: 'reconciling' }));
  await keeper?.start();
  log.info(
    { reconcileIntervalMs: config.RECONCILE_INTERVAL_MS, leased: Boolean(keeper) },
    'supervisor started',
  );

  return {
    messages$: messages.messages$,
    inspection: inspector,
    connectionHealth: (connectionId) => health.health(connectionId),
    isSilent: (connectionId) => health.health(connectionId).silent,
    owned: () => keeper?.held() ?? registry.ids(),
    reconcile: () => supervisor.send({ type: 'supervisor.reconcile' }),
    beforeSubscribing: (prepare) => {
      hooks.beforeApply = prepare;
    },
    resumeSession: (connectionId, reason) =>
      registry.actorOf(connectionId)?.send({ type: 'connection.resume', reason }),
    stop: async () => {
      supervisor.send({ type: 'supervisor.stop' });
      supervisor.stop();
      await keeper?.halt();
      await registry.close();
      pacer.close();
      // Only once every client is closed may another instance connect with their client ids.
      await keeper?.releaseAll();
      await health.stop();
      inspector.forget('supervisor');
      inspector.close();
      messages.complete();
      log.info({}, 'supervisor stopped');
    },
  };
}

interface RegistryParts {
  store: ConnectionStore;
  inspector: MachineInspector;
  health: HealthTracker;
  messages: MessageOutlet;
  /** Spaces out every connection attempt (first starts and retries) of this process. */
  pacer: ConnectPacer;
}

function buildRegistry(
  deps: ConnectionSupervisorDependencies,
  parts: RegistryParts,
  leaseTokenOf: (connectionId: number) => number | undefined,
): ConnectionRegistry {
  const { config, logging, metrics } = deps;
  const { store, inspector, health, messages, pacer } = parts;
  const mqttClient = createMqttClientActor({
    config,
    pacer,
    cipher: new CredentialCipher(config.secretKey),
    logger: logging.connection,
    sink: {
      deliver: (message) => messages.deliver(message),
      activity: (connectionId, kind) => health.activity(connectionId, kind),
      subscribed: (connectionId, patterns) => {
        store.recordSubscribed(connectionId, patterns).catch((error: unknown) => {
          metrics.databaseErrors.inc({ operation: 'subscription' });
          logging.connection.warn({ err: error, connectionId }, 'subscription write failed');
        });
      },
    },
  });

  return new ConnectionRegistry({
    config,
    mqttClient,
    recorder: { store, events: deps.events, metrics, logger: logging.connection },
    metrics,
    health,
    inspector,
    leaseTokenOf,
  });
}

/** Whatever runs the desired connections: the registry, or the lease keeper in front of it. */
interface DesiredTarget {
  apply(desired: DesiredState): void;
}

interface SupervisorHooks {
  beforeApply?: () => Promise<void>;
}

interface SupervisorParts {
  store: ConnectionStore;
  target: DesiredTarget;
  inspector: MachineInspector;
  hooks: SupervisorHooks;
}

function startSupervisorActor(
  deps: ConnectionSupervisorDependencies,
  parts: SupervisorParts,
): SupervisorActor {
  const { config } = deps;
  const log = deps.logging.connection.child({ component: 'supervisor' });
  const machine = supervisorMachine.provide({
    actors: {
      configListener: createConfigListener({
        databaseUrl: config.DATABASE_URL,
        retryBaseMs: config.RETRY_BASE_MS,
        retryCapMs: config.RETRY_CAP_MS,
        logger: log,
      }),
      loadDesiredState: fromPromise<DesiredState>(async () => {
        const desired = await loadOrLog(parts.store, log);
        await parts.hooks.beforeApply?.().catch((error: unknown) => {
          log.warn({ err: error }, 'preparing for new subscriptions failed');
        });
        return desired;
      }),
    },
    actions: {
      // Starting actors is not done inside the supervisor's own step: XState forbids creating
      // actions there, and a new machine's delayed transitions create some.
      applyDesiredState: (_, params) =>
        queueMicrotask(() => applyOrLog(parts.target, params.desired, log)),
    },
  });

  const actor = createActor(machine, {
    id: 'supervisor',
    input: {
      reconcileIntervalMs: config.RECONCILE_INTERVAL_MS,
      reconcileRetryMs: Math.min(config.RETRY_CAP_MS, config.RECONCILE_INTERVAL_MS),
    },
    inspect: parts.inspector.observe({
      actorId: 'supervisor',
      machine: 'supervisor',
      contextView: (context) => supervisorContextView(context),
    }),
  });
  actor.start();
  return actor;
}

function applyOrLog(target: DesiredTarget, desired: DesiredState, log: Logging['root']) {
  try {
    target.apply(desired);
  } catch (error) {
    // The next notification or sweep tries again; a throw here would end the process.
    log.error({ err: error }, 'applying the desired connections failed');
  }
}

async function loadOrLog(store: ConnectionStore, log: Logging['root']): Promise<DesiredState> {
  try {
    const desired = await store.loadDesired();
    await store.resetUndesired(desired.connections.map((item) => item.connectionId));
    return desired;
  } catch (error) {
    log.warn({ err: error }, 'reconcile failed');
    throw error;
  }
}

function supervisorContextView(context: unknown) {
  const { pending, listening, reconciles, lastError, reason } = context as Record<string, unknown>;
  return {
    pending,
    listening,
    reconciles,
    lastError: (lastError as string | null) ?? null,
    reason,
  };
}
