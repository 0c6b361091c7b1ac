import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, createMachine, type AnyActorRef } from 'xstate';
import { MachineInspector } from '../../src/connections/machine-inspection.js';
import { createApiHarness, type ApiHarness } from '../support/api-harness.js';

/** A small stand-in for a connection machine, observed the way the supervisor observes. */
const tinyConnection = createMachine({
  id: 'tiny',
  initial: 'disconnected',
  context: { retryCount: 0, lastError: null as string | null },
  states: {
    disconnected: { on: { 'connection.start': 'connecting' } },
    connecting: { on: { 'mqtt.connected': 'connected' } },
    connected: { on: { 'connection.stop': 'disconnected' } },
  },
});

describe('machine visualizer', () => {
  let harness: ApiHarness;
  let app: FastifyInstance;
  let actor: AnyActorRef;
  const inspector = new MachineInspector();

  beforeAll(async () => {
    harness = await createApiHarness('visualizer');
    actor = createActor(tinyConnection, {
      inspect: inspector.observe({
        actorId: 'connection:7',
        machine: 'connection',
        siteId: 3,
        connectionId: 7,
        contextView: (context) => context as Record<string, unknown>,
      }),
    });
    actor.start();
    actor.send({ type: 'connection.start' });
    actor.send({ type: 'mqtt.connected' });
    app = await harness.build({ inspection: inspector });
  });

  afterAll(async () => {
    actor.stop();
    await harness.close();
  });

  const admin = () => harness.auth(harness.keys.admin);

  it('lists live actors with state, context and transitions', async () => {
    const response = await harness.inject(app, {
      method: 'GET',
      url: '/debug/machines/actors',
      headers: admin(),
    });
    expect(response.statusCode).toBe(200);
    const [view] = response.json().items;
    expect(view).toMatchObject({
      actorId: 'connection:7',
      machine: 'connection',
      siteId: 3,
      state: 'connected',
      context: { retryCount: 0, lastError: null },
      stopped: false,
    });
    expect(view.transitions.map((t: { to: string }) => t.to)).toEqual([
      'disconnected',
      'connecting',
      'connected',
    ]);
  });

  it("serves a self-contained page drawing the engine's charts and the live actors", async () => {
    const response = await harness.inject(app, {
      method: 'GET',
      url: '/debug/machines',
      headers: admin(),
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/html');
    const page = response.body;
    expect(page).toContain('<template id="chart-connection"><svg');
    expect(page).toContain('<template id="chart-supervisor"><svg');
    expect(page).toContain('data-state="connected"');
    expect(page).toContain('"actorId":"connection:7"');
    expect(page).toContain("new EventSource('/debug/machines/stream')");
    expect(page).not.toMatch(/<(script|link)[^>]+(src|href)="https?:/);
  });

  it('streams actor changes as server-sent events until the app closes', async () => {
    const served = await harness.build({ inspection: inspector });
    const base = await served.listen({ host: '127.0.0.1', port: 0 });
    const response = await fetch(`${base}/debug/machines/stream`, { headers: admin() });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    await reader.read();

    actor.send({ type: 'connection.stop' });
    let text = '';
    while (!text.includes('data: ')) text += decoder.decode((await reader.read()).value);
    const event = JSON.parse(text.slice(text.indexOf('data: ') + 6).split('\n')[0]!);
    expect(event).toMatchObject({ actorId: 'connection:7', state: 'disconnected' });
    harness.record(text);

    await served.close();
    expect((await reader.read()).done).toBe(true);
  });
});
