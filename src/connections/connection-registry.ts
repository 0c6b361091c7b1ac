import { createActor } from 'xstate';
import {
  connectionMachine,
  type ConnectionActor,
  type ConnectionSnapshot,
} from '../../machines/connection.machine.js';
import type { Config } from '../config.js';
import { CONNECTION_STATUSES, type ConnectionStatus } from '../entities/index.js';
import type { MqttClientLogic } from '../mqtt/mqtt-client.actor.js';
import { clientIdOf, type ConnectionSettings } from '../mqtt/mqtt-session.js';
import type { Metrics } from '../observability/metrics.js';
import type { HealthTracker } from './connection-health.js';
import {
  ConnectionRecorder,
  WriteQueue,
  type RecorderDependencies,
} from './connection-recorder.js';
import type { DesiredState } from './connection-store.js';
import type { MachineInspector } from './machine-inspection.js';

/** What the registry needs. */
export interface RegistryDependencies {
  config: Pick<
    Config,
    'RETRY_BASE_MS' | 'RETRY_CAP_MS' | 'CONNECT_TIMEOUT_MS' | 'ADMISSION_RATE_PER_SECOND'
  >;
  mqttClient: MqttClientLogic;
  recorder: Omit<RecorderDependencies, 'onStatus' | 'queue'>;
  metrics: Pick<Metrics, 'connections' | 'databaseErrors'>;
  health: HealthTracker;
  inspector: MachineInspector;
  /** The fencing token a connection runs under, when leases decide who runs it. */
  leaseTokenOf?: (connectionId: number) => number | undefined;
}

interface Running {
  actor: ConnectionActor;
  recorder: ConnectionRecorder;
  settings: ConnectionSettings;
  status: ConnectionStatus;
}

/**
 * The running connection actors, kept in line with a desired state. New connections wait in
 * an admission queue drained at ADMISSION_RATE_PER_SECOND, so a restart with many sites
 * does not reach every broker in the same instant.
 */
export class ConnectionRegistry {
  readonly #deps: RegistryDependencies;
  readonly #running = new Map<number, Running>();
  readonly #waiting = new Map<number, ConnectionSettings>();
  readonly #stopping = new Map<number, Promise<void>>();
  readonly #writes = new WriteQueue();
  #admitTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(deps: RegistryDependencies) {
    this.#deps = deps;
  }

  /** Starts, reconfigures and stops actors so that exactly the desired connections run. */
  apply(desired: DesiredState): void {
    if (this.#closed) return;

    const wanted = new Map(desired.connections.map((item) => [item.connectionId, item]));
    for (const [connectionId, intervalMs] of desired.expectedIntervalsMs) {
      this.#deps.health.expectInterval(connectionId, intervalMs);
    }
    for (const connectionId of [...this.#running.keys(), ...this.#waiting.keys()]) {
      if (!wanted.has(connectionId)) this.#remove(connectionId, 'disabled or removed');
    }

    for (const settings of wanted.values()) this.#reconcileOne(settings);
    this.#admitNext();
  }

  /** Connection ids with an actor running or waiting for admission. */
  ids(): number[] {
    return [...this.#running.keys(), ...this.#waiting.keys()];
  }

  /** The running actor of a connection, if any. */
  actorOf(connectionId: number): ConnectionActor | undefined {
    return this.#running.get(connectionId)?.actor;
  }

  /**
   * Resolves once the connection's actor, if one is stopping, has closed its MQTT client and
   * written its last status: only then may another instance use the same client id.
   */
  async stopped(connectionId: number): Promise<void> {
    await this.#stopping.get(connectionId);
  }

  /** Stops every actor (clients end without UNSUBSCRIBE) and waits for their last writes. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#admitTimer);
    this.#waiting.clear();
    for (const connectionId of [...this.#running.keys()])
      this.#remove(connectionId, 'engine stopping');
    await Promise.all(this.#stopping.values());
  }

  #reconcileOne(settings: ConnectionSettings): void {
    const running = this.#running.get(settings.connectionId);
    if (!running) {
      this.#waiting.set(settings.connectionId, settings);
      return;
    }
    if (JSON.stringify(running.settings) === JSON.stringify(settings)) return;

    running.settings = settings;
    running.actor.send({ type: 'connection.configure', settings });
  }

  #remove(connectionId: number, reason: string): void {
    this.#waiting.delete(connectionId);
    const running = this.#running.get(connectionId);
    if (!running) return;

    this.#running.delete(connectionId);
    const stopping = this.#stop(running, reason);
    this.#stopping.set(connectionId, stopping);
    void stopping.finally(() => {
      if (this.#stopping.get(connectionId) === stopping) this.#stopping.delete(connectionId);
    });
  }

  async #stop(running: Running, reason: string): Promise<void> {
    const { connectionId } = running.settings;
    running.actor.send({ type: 'connection.stop', reason });
    await running.recorder.close();
    running.actor.stop();
    this.#deps.inspector.forget(actorIdOf(connectionId));
    this.#deps.health.forget(connectionId);
    this.#updateGauge();
  }

  // One admission per tick of 1000 / rate ms; the first goes at once.
  #admitNext(): void {
    if (this.#admitTimer || this.#closed) return;

    const next = this.#waiting.values().next();
    if (next.done) return;

    this.#waiting.delete(next.value.connectionId);
    this.#start(next.value);
    const interval = 1000 / this.#deps.config.ADMISSION_RATE_PER_SECOND;
    this.#admitTimer = setTimeout(() => {
      this.#admitTimer = undefined;
      this.#admitNext();
    }, interval);
  }

  #start(settings: ConnectionSettings): void {
    const { connectionId, siteId } = settings;
    const actor = createActor(this.#machine(), {
      id: actorIdOf(connectionId),
      input: {
        settings,
        retryBaseMs: this.#deps.config.RETRY_BASE_MS,
        retryCapMs: this.#deps.config.RETRY_CAP_MS,
        connectTimeoutMs: this.#deps.config.CONNECT_TIMEOUT_MS,
      },
      inspect: this.#deps.inspector.observe({
        actorId: actorIdOf(connectionId),
        machine: 'connection',
        siteId,
        connectionId,
        contextView: (context) => connectionContextView(context as ConnectionSnapshot['context']),
      }),
    });
    const leaseToken = this.#deps.leaseTokenOf?.(connectionId);
    const recorder = new ConnectionRecorder(actor, {
      ...this.#deps.recorder,
      ...(leaseToken === undefined ? {} : { leaseToken }),
      queue: this.#writes,
      onStatus: (id, status, snapshot) => this.#onStatus(id, status, snapshot),
    });
    this.#running.set(connectionId, { actor, recorder, settings, status: 'disconnected' });

    actor.start();
    actor.send({ type: 'connection.start' });
  }

  #machine() {
    return connectionMachine.provide({ actors: { mqttClient: this.#deps.mqttClient } });
  }

  #onStatus(connectionId: number, status: ConnectionStatus, snapshot: ConnectionSnapshot): void {
    const running = this.#running.get(connectionId);
    if (running) running.status = status;
    const { siteId } = snapshot.context.settings;
    this.#deps.health.status(connectionId, siteId, status, snapshot.context.sessions);
    this.#updateGauge();
  }

  #updateGauge(): void {
    const counts = new Map<ConnectionStatus, number>(CONNECTION_STATUSES.map((s) => [s, 0]));
    for (const running of this.#running.values()) {
      counts.set(running.status, (counts.get(running.status) ?? 0) + 1);
    }
    for (const [state, count] of counts) this.#deps.metrics.connections.set({ state }, count);
  }
}

/** The inspection id of a connection actor. */
export function actorIdOf(connectionId: number): string {
  return `connection:${connectionId}`;
}

/** The visualizer's view of a connection actor's context; credentials never appear. */
export function connectionContextView(context: ConnectionSnapshot['context']) {
  const { broker, siteId } = context.settings;
  return {
    retryCount: context.retryCount,
    nextRetryAt: context.nextRetryAt,
    lastError: context.lastError,
    reason: context.reason,
    parked: context.parked,
    sessions: context.sessions,
    lastConnectedAt: context.lastConnectedAt,
    broker: `${broker.useTls ? 'mqtts' : 'mqtt'}://${broker.host}:${broker.port}`,
    clientId: clientIdOf(broker, siteId),
    subscriptions: context.settings.subscriptions.map((item) => `${item.pattern}@${item.qos}`),
  };
}
