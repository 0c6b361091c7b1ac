import { describe, expect, it } from 'vitest';
import { MessageOutlet } from '../../src/connections/message-outlet.js';
import { createPlainLogger } from '../../src/logger.js';
import type { ReceivedMessage } from '../../src/mqtt/received-message.js';

const message = (topic: string): ReceivedMessage => ({
  siteId: 1,
  connectionId: 1,
  topic,
  payload: Buffer.from('{}'),
  qos: 1,
  retain: false,
  receivedAt: new Date(),
  acknowledge: () => undefined,
});

describe('MessageOutlet', () => {
  it('holds messages for a consumer that subscribes late, then streams live', () => {
    const outlet = new MessageOutlet(10, createPlainLogger('silent'));
    outlet.deliver(message('a'));
    outlet.deliver(message('b'));

    const first: string[] = [];
    const second: string[] = [];
    outlet.messages$.subscribe((received) => first.push(received.topic));
    outlet.messages$.subscribe((received) => second.push(received.topic));
    outlet.deliver(message('c'));

    expect(first).toEqual(['a', 'b', 'c']);
    expect(second).toEqual(['c']);
    outlet.complete();
  });

  it('holds no more than its limit and leaves the rest to the broker', () => {
    const outlet = new MessageOutlet(2, createPlainLogger('silent'));
    for (const topic of ['a', 'b', 'c', 'd']) outlet.deliver(message(topic));

    const received: string[] = [];
    outlet.messages$.subscribe((item) => received.push(item.topic));
    expect(received).toEqual(['a', 'b']);
    outlet.complete();
  });
});
