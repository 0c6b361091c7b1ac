import type { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { CLOSE_TOO_SLOW, EventHub, toWire } from '../../src/api/live/event-hub.js';
import { createPlainLogger } from '../../src/logger.js';
import { openRedis } from '../../src/redis.js';
import { uniqueName } from '../support/config.js';

/** A socket whose send buffer the test sets, recording what happens to it. */
function socketWithBuffer(bufferedAmount: number) {
  const record = { sent: [] as string[], closedWith: undefined as number | undefined, dead: false };
  const socket = {
    OPEN: 1,
    readyState: 1,
    bufferedAmount,
    send: (text: string) => record.sent.push(text),
    close: (code: number) => {
      record.closedWith = code;
    },
    terminate: () => {
      record.dead = true;
    },
    on: () => socket,
  };
  return { socket: socket as unknown as WebSocket, record };
}

describe('event hub', () => {
  it('drops a client whose send buffer is over the bound instead of queueing more', () => {
    const hub = new EventHub(
      openRedis('redis://127.0.0.1:6379'),
      uniqueName('hub'),
      createPlainLogger('silent'),
      {
        pingIntervalMs: 60_000,
        maxBufferedBytes: 1024,
      },
    );

    const fast = socketWithBuffer(0);
    const slow = socketWithBuffer(4096);
    hub.send(fast.socket, { type: 'x' });
    hub.send(slow.socket, { type: 'x' });

    expect(fast.record.sent).toHaveLength(1);
    expect(slow.record).toMatchObject({ sent: [], closedWith: CLOSE_TOO_SLOW, dead: true });
    hub.close();
  });

  it('sends events with snake_case field names', () => {
    const wire = toWire({
      type: 'data_update',
      siteId: 4,
      readings: 3,
      messages: 1,
      gateways: ['GW-1'],
      at: '2026-12-03T15:00:00.000Z',
    });
    expect(wire).toEqual({
      type: 'data_update',
      site_id: 4,
      readings: 3,
      messages: 1,
      gateways: ['GW-1'],
      at: '2026-12-03T15:00:00.000Z',
    });
  });
});
