import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromCallback } from 'xstate';
import {
  CLIENT_ACTOR_ID,
  connectionMachine,
  fullJitterDelay,
  statusOf,
  type ConnectionActor,
} from '../../machines/connection.machine.js';
import type { MqttClientCommand, MqttClientReport } from '../../src/mqtt/mqtt-client.actor.js';
import type { ConnectionFailure, ConnectionSettings } from '../../src/mqtt/mqtt-session.js';

interface FakeClient {
  settings: ConnectionSettings;
  commands: MqttClientCommand[];
  stopped: boolean;
  report(event: MqttClientReport): void;
}

const BASE_MS = 100;
const CAP_MS = 1_000;
const CONNECT_TIMEOUT_MS = 5_000;

const settings = (overrides: Partial<ConnectionSettings['broker']> = {}): ConnectionSettings => ({
  connectionId: 7,
  siteId: 3,
  broker: {
    host: 'broker.example',
    port: 1883,
    useTls: false,
    caCert: null,
    username: 'gateway',
    passwordEncrypted: null,
    clientIdPrefix: 'sitewire',
    ...overrides,
  },
  subscriptions: [{ pattern: '#', qos: 1 }],
});

const networkFailure: ConnectionFailure = {
  code: 'MQTT_NETWORK',
  message: 'connect ECONNREFUSED',
  retryable: true,
  exceptionType: 'AppError:MQTT_NETWORK',
  traceback: 'Error: connect ECONNREFUSED',
};

const refusal: ConnectionFailure = {
  code: 'MQTT_AUTH_REFUSED',
  message: 'broker refused the session (Connection refused: Bad username or password)',
  retryable: false,
  exceptionType: 'AppError:MQTT_AUTH_REFUSED',
  traceback: 'ErrorWithReasonCode: Connection refused',
};

describe('connection machine', () => {
  let clients: FakeClient[];
  let actor: ConnectionActor;

  const live = () => clients.filter((client) => !client.stopped);
  const latest = () => clients.at(-1)!;
  const state = () => actor.getSnapshot();

  beforeEach(() => {
    vi.useFakeTimers();
    clients = [];
    const fakeClient = fromCallback<MqttClientCommand, ConnectionSettings>(
      ({ input, sendBack, receive }) => {
        const client: FakeClient = {
          settings: input,
          commands: [],
          stopped: false,
          report: (event) => sendBack(event),
        };
        clients.push(client);
        receive((command) => client.commands.push(command));
        return () => {
          client.stopped = true;
        };
      },
    );
    const machine = connectionMachine.provide({ actors: { mqttClient: fakeClient } });
    actor = createActor(machine, {
      input: {
        settings: settings(),
        retryBaseMs: BASE_MS,
        retryCapMs: CAP_MS,
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
      },
    });
    actor.start();
  });

  afterEach(() => {
    actor.stop();
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  const failLatest = (failure = networkFailure) =>
    latest().report({ type: 'mqtt.failed', failure });

  it('grows the backoff within its full-jitter bounds up to the cap', () => {
    actor.send({ type: 'connection.start' });
    const delays: number[] = [];

    for (let attempt = 0; attempt < 10; attempt += 1) {
      failLatest();
      const { retryDelayMs, retryCount, nextRetryAt } = state().context;
      delays.push(retryDelayMs);

      expect(state().value).toEqual({ error: 'backingOff' });
      expect(retryCount).toBe(attempt + 1);
      expect(retryDelayMs).toBeGreaterThanOrEqual(0);
      expect(retryDelayMs).toBeLessThan(Math.min(CAP_MS, BASE_MS * 2 ** attempt));
      expect(Date.parse(nextRetryAt!)).toBe(Date.now() + retryDelayMs);

      vi.advanceTimersByTime(retryDelayMs);
      expect(statusOf(state())).toBe('connecting');
    }

    expect(live()).toHaveLength(1);
    expect(delays.every((delay) => delay < CAP_MS)).toBe(true);
  });

  it('doubles the ceiling each attempt and holds it at the cap', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999_999);
    actor.send({ type: 'connection.start' });
    const delays: number[] = [];

    for (let attempt = 0; attempt < 7; attempt += 1) {
      failLatest();
      delays.push(state().context.retryDelayMs);
      vi.advanceTimersByTime(state().context.retryDelayMs);
    }

    expect(delays).toEqual([99, 199, 399, 799, 999, 999, 999]);
  });

  it('waits the whole backoff before the next attempt', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    actor.send({ type: 'connection.start' });
    failLatest();
    failLatest();
    expect(clients).toHaveLength(1);

    vi.advanceTimersByTime(state().context.retryDelayMs - 1);
    expect(clients).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(clients).toHaveLength(2);
  });

  it('resets the retry count after a successful session', () => {
    actor.send({ type: 'connection.start' });
    for (let attempt = 0; attempt < 3; attempt += 1) {
      failLatest();
      vi.advanceTimersByTime(state().context.retryDelayMs);
    }
    latest().report({ type: 'mqtt.connected', sessionPresent: false });

    expect(state().value).toBe('connected');
    expect(state().context).toMatchObject({ retryCount: 0, nextRetryAt: null, lastError: null });

    latest().report({ type: 'mqtt.closed', failure: networkFailure });
    expect(state().context.retryCount).toBe(1);
    expect(state().context.retryDelayMs).toBeLessThan(BASE_MS);
  });

  it('parks on an authentication refusal without retrying', () => {
    actor.send({ type: 'connection.start' });
    failLatest(refusal);

    expect(state().value).toEqual({ error: 'parked' });
    expect(state().context.parked).toBe(true);
    expect(state().context.reason).toMatch(/no automatic retry will help/);
    expect(vi.getTimerCount()).toBe(0);

    vi.advanceTimersByTime(24 * 3600_000);
    expect(clients).toHaveLength(1);
    expect(live()).toHaveLength(0);
  });

  it('leaves the parked state when the broker settings change', () => {
    actor.send({ type: 'connection.start' });
    failLatest(refusal);
    actor.send({ type: 'connection.configure', settings: settings({ username: 'fixed' }) });

    expect(state().value).toBe('connecting');
    expect(live()).toHaveLength(1);
    expect(latest().settings.broker.username).toBe('fixed');
  });

  it('times out a connect attempt that hangs and retries', () => {
    actor.send({ type: 'connection.start' });
    vi.advanceTimersByTime(CONNECT_TIMEOUT_MS);

    expect(state().value).toEqual({ error: 'backingOff' });
    expect(state().context.failure?.code).toBe('MQTT_CONNECT_TIMEOUT');
    expect(live()).toHaveLength(0);
  });

  it('stops cleanly while connecting', () => {
    actor.send({ type: 'connection.start' });
    actor.send({ type: 'connection.stop' });

    expect(state().value).toBe('disconnected');
    expect(live()).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(state().children[CLIENT_ACTOR_ID]).toBeUndefined();
  });

  it('stops cleanly while waiting to retry', () => {
    actor.send({ type: 'connection.start' });
    failLatest();
    actor.send({ type: 'connection.stop', reason: 'disabled by operator' });

    expect(state().value).toBe('disconnected');
    expect(state().context).toMatchObject({ reason: 'disabled by operator', nextRetryAt: null });
    expect(vi.getTimerCount()).toBe(0);

    vi.advanceTimersByTime(CAP_MS * 10);
    expect(clients).toHaveLength(1);
    expect(live()).toHaveLength(0);
  });

  it('reconnects with a new client when the broker settings change while connected', () => {
    actor.send({ type: 'connection.start' });
    latest().report({ type: 'mqtt.connected', sessionPresent: false });
    actor.send({ type: 'connection.configure', settings: settings({ port: 8883 }) });

    expect(state().value).toBe('connecting');
    expect(clients).toHaveLength(2);
    expect(live()).toEqual([latest()]);
    expect(latest().settings.broker.port).toBe(8883);
    expect(vi.getTimerCount()).toBe(1);

    latest().report({ type: 'mqtt.connected', sessionPresent: true });
    expect(state().value).toBe('connected');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('resumes a connected session with a new client, keeping its settings', () => {
    actor.send({ type: 'connection.start' });
    latest().report({ type: 'mqtt.connected', sessionPresent: false });
    actor.send({ type: 'connection.resume', reason: 'held messages' });

    expect(state().value).toBe('connecting');
    expect(state().context.reason).toBe('held messages');
    expect(clients).toHaveLength(2);
    expect(live()).toEqual([latest()]);
    expect(latest().settings).toEqual(clients[0]!.settings);

    latest().report({ type: 'mqtt.connected', sessionPresent: true });
    expect(state().value).toBe('connected');
  });

  it('ignores a resume request unless connected', () => {
    actor.send({ type: 'connection.start' });
    actor.send({ type: 'connection.resume' });

    expect(state().value).toBe('connecting');
    expect(clients).toHaveLength(1);
  });

  it('resubscribes without a new client when only the subscriptions change', () => {
    actor.send({ type: 'connection.start' });
    latest().report({ type: 'mqtt.connected', sessionPresent: false });
    const next = { ...settings(), subscriptions: [{ pattern: 'a/+/b', qos: 2 as const }] };
    actor.send({ type: 'connection.configure', settings: next });

    expect(state().value).toBe('connected');
    expect(clients).toHaveLength(1);
    expect(latest().commands).toEqual([
      { type: 'mqtt.subscriptions.update', subscriptions: next.subscriptions },
    ]);
    expect(state().context.sessions).toBe(1);
  });

  it('keeps subscription changes for the next session while waiting to retry', () => {
    actor.send({ type: 'connection.start' });
    failLatest();
    const next = { ...settings(), subscriptions: [{ pattern: 'x/#', qos: 0 as const }] };
    actor.send({ type: 'connection.configure', settings: next });
    vi.advanceTimersByTime(state().context.retryDelayMs);

    expect(statusOf(state())).toBe('connecting');
    expect(latest().settings.subscriptions).toEqual(next.subscriptions);
  });
});

describe('fullJitterDelay', () => {
  it('stays below min(cap, base x 2^attempt)', () => {
    for (let attempt = 0; attempt < 80; attempt += 1) {
      const delay = fullJitterDelay(attempt, 250, 30_000);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(Math.min(30_000, 250 * 2 ** attempt));
    }
  });
});
