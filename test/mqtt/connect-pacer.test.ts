import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectPacer } from '../../src/mqtt/connect-pacer.js';

describe('ConnectPacer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('never lets a burst of attempts exceed its rate', () => {
    const pacer = new ConnectPacer(5);
    const ranAt: number[] = [];
    const start = Date.now();

    for (let index = 0; index < 10; index += 1) {
      pacer.request(() => ranAt.push(Date.now() - start));
    }
    vi.advanceTimersByTime(2_000);

    expect(ranAt).toEqual([0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800]);
    pacer.close();
  });

  it('runs an attempt at once when the last one is older than its interval', () => {
    const pacer = new ConnectPacer(10);
    const ran: string[] = [];

    pacer.request(() => ran.push('first'));
    vi.advanceTimersByTime(500);
    pacer.request(() => ran.push('second'));

    expect(ran).toEqual(['first', 'second']);
    pacer.close();
  });

  it('forgets an attempt withdrawn while waiting, and everything when closed', () => {
    const pacer = new ConnectPacer(1);
    const ran: string[] = [];

    pacer.request(() => ran.push('a'));
    const withdraw = pacer.request(() => ran.push('b'));
    pacer.request(() => ran.push('c'));
    withdraw();
    vi.advanceTimersByTime(1_000);
    pacer.request(() => ran.push('d'));
    pacer.close();
    vi.advanceTimersByTime(10_000);

    expect(ran).toEqual(['a', 'c']);
    expect(pacer.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
