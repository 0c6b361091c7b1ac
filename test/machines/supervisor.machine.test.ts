import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromCallback, fromPromise, type EventObject } from 'xstate';
import { supervisorMachine, type SupervisorActor } from '../../machines/supervisor.machine.js';
import type { ConfigListenerReport } from '../../src/connections/config-listener.actor.js';
import type { DesiredState } from '../../src/connections/connection-store.js';

const SWEEP_MS = 30_000;
const RETRY_MS = 2_000;

interface PendingLoad {
  resolve(state: DesiredState): void;
  reject(error: Error): void;
}

const desired = (...ids: number[]): DesiredState => ({
  connections: ids.map((connectionId) => ({
    connectionId,
    siteId: connectionId,
    broker: {
      host: 'h',
      port: 1883,
      useTls: false,
      caCert: null,
      username: '',
      passwordEncrypted: null,
      clientIdPrefix: 'p',
    },
    subscriptions: [],
  })),
  expectedIntervalsMs: new Map(),
});

describe('supervisor machine', () => {
  let loads: PendingLoad[];
  let applied: DesiredState[];
  let listenerStopped: boolean;
  let report: (event: ConfigListenerReport) => void;
  let actor: SupervisorActor;

  const settle = () => vi.advanceTimersByTimeAsync(0);

  beforeEach(() => {
    vi.useFakeTimers();
    loads = [];
    applied = [];
    listenerStopped = false;
    const machine = supervisorMachine.provide({
      actors: {
        configListener: fromCallback<EventObject, void>(({ sendBack }) => {
          report = sendBack;
          return () => {
            listenerStopped = true;
          };
        }),
        loadDesiredState: fromPromise<DesiredState>(
          () => new Promise((resolve, reject) => loads.push({ resolve, reject })),
        ),
      },
      actions: { applyDesiredState: (_, params) => void applied.push(params.desired) },
    });
    actor = createActor(machine, {
      input: { reconcileIntervalMs: SWEEP_MS, reconcileRetryMs: RETRY_MS },
    });
    actor.start();
  });

  afterEach(() => {
    actor.stop();
    vi.useRealTimers();
  });

  it('reconciles at start and applies what the database wants', async () => {
    expect(actor.getSnapshot().value).toEqual({ running: 'reconciling' });
    loads[0]!.resolve(desired(1, 2));
    await settle();

    expect(actor.getSnapshot().value).toEqual({ running: 'idle' });
    expect(applied).toEqual([desired(1, 2)]);
  });

  it('reconciles at once on a configuration change, without waiting for the sweep', async () => {
    loads[0]!.resolve(desired());
    await settle();
    report({ type: 'supervisor.config.changed', change: null });

    expect(actor.getSnapshot().value).toEqual({ running: 'reconciling' });
    expect(loads).toHaveLength(2);
  });

  it('coalesces changes that arrive during a reconcile into one more reconcile', async () => {
    for (let n = 0; n < 5; n += 1) report({ type: 'supervisor.config.changed', change: null });
    loads[0]!.resolve(desired(1));
    await settle();

    expect(loads).toHaveLength(2);
    loads[1]!.resolve(desired(1, 2));
    await settle();
    expect(actor.getSnapshot().value).toEqual({ running: 'idle' });
    expect(applied).toHaveLength(2);
  });

  it('sweeps periodically as a safety net', async () => {
    loads[0]!.resolve(desired());
    await settle();

    await vi.advanceTimersByTimeAsync(SWEEP_MS - 1);
    expect(loads).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(loads).toHaveLength(2);
  });

  it('reconciles when the listener comes back after a drop, not on its first connect', async () => {
    loads[0]!.resolve(desired());
    await settle();
    report({ type: 'supervisor.listener.up', reconnected: false });
    expect(loads).toHaveLength(1);

    report({ type: 'supervisor.listener.down', error: 'terminated' });
    report({ type: 'supervisor.listener.up', reconnected: true });
    expect(loads).toHaveLength(2);
    expect(actor.getSnapshot().context.listening).toBe(true);
  });

  it('retries a failed reconcile sooner than the sweep', async () => {
    loads[0]!.reject(new Error('database unavailable'));
    await settle();
    expect(actor.getSnapshot().value).toEqual({ running: 'waitingToRetry' });
    expect(actor.getSnapshot().context.lastError).toMatch(/database unavailable/);

    await vi.advanceTimersByTimeAsync(RETRY_MS);
    expect(loads).toHaveLength(2);
  });

  it('stops its listener and timers when stopped', async () => {
    loads[0]!.resolve(desired());
    await settle();
    actor.send({ type: 'supervisor.stop' });

    expect(actor.getSnapshot().status).toBe('done');
    expect(listenerStopped).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});
