import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { EventPublisher } from '../../src/events/event-bus.js';
import { EVENTS_CHANNEL, type EngineEvent } from '../../src/events/event-types.js';
import { openRedis } from '../../src/redis.js';
import { createApiHarness, type ApiHarness } from '../support/api-harness.js';

/** A connected test client that keeps every message it receives. */
interface Client {
  socket: WebSocket;
  messages: Array<Record<string, unknown>>;
  waitFor(predicate: (message: Record<string, unknown>) => boolean): Promise<unknown>;
}

/** Every message any test client received, for the harness's secret check. */
const received: string[] = [];

function connect(url: string, headers: Record<string, string> = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    const messages: Array<Record<string, unknown>> = [];
    const waiters: Array<() => void> = [];
    socket.on('message', (data: Buffer) => {
      received.push(data.toString());
      messages.push(JSON.parse(data.toString()) as Record<string, unknown>);
      waiters.forEach((wake) => wake());
    });
    socket.once('open', () =>
      resolve({
        socket,
        messages,
        waitFor: (predicate) =>
          new Promise((found, fail) => {
            const timer = setTimeout(() => fail(new Error('no such message')), 5_000);
            const check = () => {
              const hit = messages.find(predicate);
              if (!hit) return;
              clearTimeout(timer);
              found(hit);
            };
            waiters.push(check);
            check();
          }),
      }),
    );
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`upgrade refused: ${response.statusCode}`)),
    );
    socket.once('error', reject);
  });
}

function stateEvent(siteId: number, current: 'connected' | 'disconnected'): EngineEvent {
  return {
    type: 'connection.state',
    siteId,
    connectionId: siteId * 10,
    previous: current === 'connected' ? 'connecting' : 'connected',
    current,
    reason: `test ${current}`,
    parked: false,
    at: new Date().toISOString(),
  };
}

describe('live stream across instances', () => {
  let harness: ApiHarness;
  let first: FastifyInstance;
  let second: FastifyInstance;
  let publisherRedis: Redis;
  let publisher: EventPublisher;
  let firstUrl: string;
  let secondUrl: string;

  beforeAll(async () => {
    harness = await createApiHarness('live');
    first = await harness.build();
    second = await harness.build({ live: { pingIntervalMs: 200 } });
    await first.listen({ host: '127.0.0.1', port: 0 });
    await second.listen({ host: '127.0.0.1', port: 0 });
    firstUrl = wsUrl(first);
    secondUrl = wsUrl(second);
    // The first instance's own Redis side publishes, as its supervisor would.
    publisherRedis = openRedis('redis://127.0.0.1:6379');
    publisher = new EventPublisher(publisherRedis, harness.prefix);
    await waitForSubscribers(publisherRedis, `${harness.prefix}:${EVENTS_CHANNEL}`, 2);
  });

  afterAll(async () => {
    publisherRedis.disconnect();
    received.forEach((message) => harness.record(message));
    await harness.close();
  });

  it('delivers an event published on one instance to a client of the other, by site', async () => {
    const siteA = await connect(`${secondUrl}?site_id=101`, harness.auth(harness.keys.viewer));
    const onFirst = await connect(`${firstUrl}?site_id=101,202`, harness.auth(harness.keys.admin));
    const everything = await connect(`${secondUrl}?token=${harness.keys.viewer}`);
    await siteA.waitFor((message) => message.type === 'subscribed');

    await publisher.publish(stateEvent(202, 'connected'));
    await publisher.publish(stateEvent(101, 'connected'));

    const received = await siteA.waitFor((message) => message.type === 'connection.state');
    expect(received).toMatchObject({
      type: 'connection.state',
      site_id: 101,
      connection_id: 1010,
      previous: 'connecting',
      current: 'connected',
      reason: 'test connected',
      parked: false,
    });
    await everything.waitFor((message) => message.site_id === 101);
    expect(everything.messages.filter((m) => m.type === 'connection.state')).toHaveLength(2);
    expect(siteA.messages.filter((m) => m.site_id === 202)).toHaveLength(0);

    await onFirst.waitFor((message) => message.site_id === 101);
    expect(onFirst.messages.filter((m) => m.type === 'connection.state')).toHaveLength(2);

    siteA.socket.close();
    everything.socket.close();
    onFirst.socket.close();
  });

  it('changes the followed sites with subscribe and unsubscribe messages', async () => {
    const client = await connect(`${secondUrl}?site_id=1`, harness.auth(harness.keys.viewer));
    client.socket.send(JSON.stringify({ type: 'subscribe', site_ids: [303] }));
    await client.waitFor(
      (m) => Array.isArray(m.site_ids) && (m.site_ids as number[]).includes(303),
    );
    client.socket.send(JSON.stringify({ type: 'unsubscribe', site_ids: [1] }));
    await client.waitFor((m) => JSON.stringify(m.site_ids) === '[303]');

    await publisher.publish(stateEvent(1, 'connected'));
    await publisher.publish(stateEvent(303, 'disconnected'));
    await client.waitFor((m) => m.site_id === 303);
    expect(client.messages.filter((m) => m.site_id === 1)).toHaveLength(0);

    client.socket.send('not json');
    const error = await client.waitFor((m) => m.type === 'error');
    expect(error).toMatchObject({ issues: [{ message: 'not JSON' }] });
    client.socket.close();
  });

  it('refuses the upgrade without a valid key', async () => {
    await expect(connect(secondUrl)).rejects.toThrow('401');
    await expect(connect(`${secondUrl}?token=sw_nope`)).rejects.toThrow('401');
    await expect(
      connect(`${secondUrl}?site_id=x`, harness.auth(harness.keys.viewer)),
    ).rejects.toThrow('400');
  });

  it('keeps a key passed as ?token= out of the request log', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        lines.push(chunk.toString());
        done();
      },
    });
    const logged = await harness.build({ logger: pino({ level: 'info' }, sink) });
    await logged.listen({ host: '127.0.0.1', port: 0 });
    const client = await connect(`${wsUrl(logged)}?token=${harness.keys.viewer}&site_id=5`);
    client.socket.close();

    expect(lines.join('')).toContain('token=[redacted]&site_id=5');
    expect(lines.join('')).not.toContain(harness.keys.viewer);
  });

  it('drops a client that stops answering pings', async () => {
    const client = await connect(secondUrl, harness.auth(harness.keys.viewer));
    // Pausing the socket stops reading: pings go unanswered, as from a dead peer. Once the
    // server has given up, reading again shows the connection it closed.
    const raw = (client.socket as unknown as { _socket: { pause(): void; resume(): void } })
      ._socket;
    raw.pause();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    raw.resume();
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 3_000);
      client.socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    expect(closed).toBe(true);
  });
});

function wsUrl(app: FastifyInstance): string {
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return `ws://127.0.0.1:${address.port}/ws`;
}

async function waitForSubscribers(redis: Redis, channel: string, count: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const reply = (await redis.call('pubsub', 'numsub', channel)) as [string, number];
    if (Number(reply[1]) >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`fewer than ${count} subscribers on ${channel}`);
}
