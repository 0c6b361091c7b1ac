import type { EventPublisher } from '../events/event-bus.js';
import type { SiteActivity } from './record-collector.js';

interface PendingUpdate {
  messages: number;
  readings: number;
  gateways: Set<string>;
  timer: NodeJS.Timeout;
}

/**
 * Folds each site's stored activity into at most one `data_update` event per `throttleMs`,
 * whatever the message rate: the first activity of a quiet site starts the window, and the
 * counts of the whole window go out when it closes (SPEC flaw 11: no broadcast per message).
 */
export class DataUpdateCoalescer {
  readonly #pending = new Map<number, PendingUpdate>();

  constructor(
    private readonly events: Pick<EventPublisher, 'publish'> | undefined,
    private readonly throttleMs: number,
  ) {}

  /** Adds a committed batch's activity of one site. */
  add(siteId: number, activity: SiteActivity): void {
    let pending = this.#pending.get(siteId);
    if (!pending) {
      const timer = setTimeout(() => void this.#emit(siteId), this.throttleMs);
      pending = { messages: 0, readings: 0, gateways: new Set(), timer };
      this.#pending.set(siteId, pending);
    }

    pending.messages += activity.messages;
    pending.readings += activity.readings;
    for (const gateway of activity.gateways) pending.gateways.add(gateway);
  }

  /** Sends what is pending now; used on shutdown. */
  async flush(): Promise<void> {
    await Promise.all([...this.#pending.keys()].map((siteId) => this.#emit(siteId)));
  }

  async #emit(siteId: number): Promise<void> {
    const pending = this.#pending.get(siteId);
    if (!pending) return;

    clearTimeout(pending.timer);
    this.#pending.delete(siteId);
    await this.events?.publish({
      type: 'data_update',
      siteId,
      messages: pending.messages,
      readings: pending.readings,
      gateways: [...pending.gateways].sort(),
      at: new Date().toISOString(),
    });
  }
}
