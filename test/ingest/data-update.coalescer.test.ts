import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EngineEvent } from '../../src/events/event-types.js';
import { DataUpdateCoalescer } from '../../src/ingest/data-update.coalescer.js';

describe('DataUpdateCoalescer', () => {
  const sent: EngineEvent[] = [];
  const events = {
    publish: (event: EngineEvent) => {
      sent.push(event);
      return Promise.resolve(true);
    },
  };

  beforeEach(() => {
    sent.length = 0;
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends at most one data_update per site per window, whatever the batch rate', async () => {
    const coalescer = new DataUpdateCoalescer(events, 500);
    for (let ms = 0; ms < 1_000; ms += 10) {
      coalescer.add(1, { messages: 2, readings: 6, gateways: new Set(['GW-1']) });
      if (ms % 100 === 0)
        coalescer.add(2, { messages: 1, readings: 1, gateways: new Set(['GW-2']) });
      await vi.advanceTimersByTimeAsync(10);
    }

    const site1 = sent.filter((event) => event.type === 'data_update' && event.siteId === 1);
    const site2 = sent.filter((event) => event.type === 'data_update' && event.siteId === 2);
    expect(site1).toHaveLength(2);
    expect(site2).toHaveLength(2);
    expect(site1.reduce((total, e) => total + (e.type === 'data_update' ? e.messages : 0), 0)).toBe(
      200,
    );
    expect(site1[0]).toMatchObject({ readings: 300, gateways: ['GW-1'] });
  });

  it('sends what is pending when flushed', async () => {
    const coalescer = new DataUpdateCoalescer(events, 500);
    coalescer.add(3, { messages: 1, readings: 3, gateways: new Set(['GW-3']) });
    await coalescer.flush();
    expect(sent).toMatchObject([{ type: 'data_update', siteId: 3, messages: 1, readings: 3 }]);
  });
});
