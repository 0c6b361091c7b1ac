import type { Logger } from 'pino';
import type { Subscription } from 'xstate';
import {
  statusOf,
  type ConnectionActor,
  type ConnectionSnapshot,
} from '../../machines/connection.machine.js';
import type { ConnectionStatus, LogLevel } from '../entities/index.js';
import { AppError, ERROR_CODES, type ErrorCode } from '../errors.js';
import type { ConnectionFailure } from '../mqtt/mqtt-session.js';
import type { EventPublisher } from '../events/event-bus.js';
import type { Metrics } from '../observability/metrics.js';
import type { ConnectionStore } from './connection-store.js';

/** What a recorder writes to. */
export interface RecorderDependencies {
  store: ConnectionStore;
  /** Orders the writes of one connection across its actors (a stop, then a quick restart). */
  queue: WriteQueue;
  events: EventPublisher;
  metrics: Pick<Metrics, 'databaseErrors'>;
  /** The `mqtt.connection` channel. */
  logger: Logger;
  /** Fencing token of the lease the actor runs under; its status writes carry it. */
  leaseToken?: number;
  /** Told of every status change, after the fact; keeps gauges and health in step. */
  onStatus(connectionId: number, status: ConnectionStatus, snapshot: ConnectionSnapshot): void;
}

const LOG_MESSAGES: Record<string, string> = {
  connecting: 'connection connecting',
  connected: 'connection established',
  disconnected: 'connection stopped',
  retrying: 'connection failed, retrying',
  parked: 'connection parked',
};

/** Runs the writes of each connection one after another, in the order they were asked for. */
export class WriteQueue {
  readonly #tails = new Map<number, Promise<void>>();

  /** Runs `write` after every earlier write of the connection; never rejects. */
  run(connectionId: number, write: () => Promise<void>): Promise<void> {
    const previous = this.#tails.get(connectionId) ?? Promise.resolve();
    const next = previous.then(write).catch(() => undefined);
    this.#tails.set(connectionId, next);
    void next.then(() => {
      if (this.#tails.get(connectionId) === next) this.#tails.delete(connectionId);
    });
    return next;
  }
}

/**
 * Writes every transition of one connection actor: status columns, a MqttConnectionLog row,
 * a line on the `mqtt.connection` channel and a `connection.state` live event. Writes run one
 * after another per connection, so the columns end in the last state even when transitions
 * come faster than the database answers.
 */
export class ConnectionRecorder {
  readonly #actor: ConnectionActor;
  readonly #deps: RecorderDependencies;
  readonly #log: Logger;
  readonly #subscription: Subscription;
  #previous: ConnectionStatus = 'disconnected';
  #lastKey = '';
  #writes: Promise<void> = Promise.resolve();
  readonly #connectionId: number;

  constructor(actor: ConnectionActor, deps: RecorderDependencies) {
    const { connectionId, siteId } = actor.getSnapshot().context.settings;
    this.#actor = actor;
    this.#deps = deps;
    this.#connectionId = connectionId;
    this.#log = deps.logger.child({ connectionId, siteId });
    // The initial `disconnected` is not a transition; the first one written is `connecting`.
    this.#lastKey = keyOf(actor.getSnapshot());
    this.#subscription = actor.subscribe((snapshot) => this.#observe(snapshot));
  }

  /** Resolves once every transition seen so far is written. */
  flush(): Promise<void> {
    return this.#writes;
  }

  /** Stops following the actor, after writing what it saw. */
  async close(): Promise<void> {
    this.#observe(this.#actor.getSnapshot());
    this.#subscription.unsubscribe();
    await this.flush();
  }

  #observe(snapshot: ConnectionSnapshot): void {
    const { context } = snapshot;
    const key = keyOf(snapshot);
    if (key === this.#lastKey) return;

    this.#lastKey = key;
    const previous = this.#previous;
    const status = statusOf(snapshot);
    this.#previous = status;
    this.#deps.onStatus(context.settings.connectionId, status, snapshot);
    const write = () => this.#write(snapshot, previous, status);
    this.#writes = this.#deps.queue.run(this.#connectionId, write);
  }

  async #write(
    snapshot: ConnectionSnapshot,
    previous: ConnectionStatus,
    status: ConnectionStatus,
  ): Promise<void> {
    const { context } = snapshot;
    const { connectionId, siteId, broker } = context.settings;
    const at = new Date().toISOString();
    const kind = kindOf(status, context.parked);
    this.#logLine(kind, snapshot, previous);

    await this.#guard('status', () =>
      this.#deps.store.writeStatus(
        connectionId,
        {
          status,
          retryCount: context.retryCount,
          nextRetryAt: context.nextRetryAt,
          lastConnectedAt: status === 'connected' ? context.lastConnectedAt : null,
          lastError: context.lastError,
        },
        this.#deps.leaseToken,
      ),
    );
    await this.#guard('connection_log', () =>
      this.#deps.store.writeLog({
        connectionId,
        level: levelOf(kind),
        message: `${LOG_MESSAGES[kind]}: ${context.reason}`,
        brokerHost: broker.host,
        retryAttempt: context.retryCount || null,
        ...(kind === 'retrying' || kind === 'parked'
          ? {
              exceptionType: context.failure?.exceptionType ?? '',
              traceback: context.failure?.traceback ?? '',
            }
          : {}),
      }),
    );
    await this.#deps.events.publish({
      type: 'connection.state',
      siteId,
      connectionId,
      previous,
      current: status,
      reason: context.reason,
      parked: context.parked,
      at,
    });
  }

  #logLine(kind: string, snapshot: ConnectionSnapshot, previous: ConnectionStatus): void {
    const { context } = snapshot;
    const fields = {
      previous,
      state: snapshot.value,
      reason: context.reason,
      retryCount: context.retryCount,
      nextRetryAt: context.nextRetryAt,
      brokerHost: context.settings.broker.host,
    };
    const message = LOG_MESSAGES[kind]!;
    const failure = kind === 'parked' || kind === 'retrying' ? context.failure : undefined;
    if (failure && isReportableFailure(failure)) {
      // Not a network blip or a refusal but a fault someone must fix (a password that no
      // longer decrypts, a protocol violation): logged with its error, so Sentry gets it.
      this.#log.error({ ...fields, code: failure.code, err: errorOf(failure) }, message);
    } else if (kind === 'parked') this.#log.error({ ...fields, code: failure?.code }, message);
    else if (kind === 'retrying') this.#log.warn({ ...fields, code: failure?.code }, message);
    else this.#log.info(fields, message);
  }

  async #guard(operation: string, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      this.#deps.metrics.databaseErrors.inc({ operation });
      this.#log.warn({ err: error, operation }, 'connection state write failed');
    }
  }
}

function isReportableFailure(failure: ConnectionFailure): boolean {
  return failure.code in ERROR_CODES && ERROR_CODES[failure.code as ErrorCode].reportable;
}

function errorOf(failure: ConnectionFailure): AppError {
  const error = new AppError(failure.code as ErrorCode, failure.message);
  if (failure.traceback) error.stack = failure.traceback;
  return error;
}

// What makes a snapshot worth recording: a new state, a new attempt or a new session.
function keyOf(snapshot: ConnectionSnapshot): string {
  const { retryCount, sessions } = snapshot.context;
  return `${JSON.stringify(snapshot.value)}|${retryCount}|${sessions}`;
}

function kindOf(status: ConnectionStatus, parked: boolean): string {
  if (status === 'error') return parked ? 'parked' : 'retrying';
  return status;
}

function levelOf(kind: string): LogLevel {
  if (kind === 'parked') return 'ERROR';
  return kind === 'retrying' ? 'WARNING' : 'INFO';
}
