import type { Logger } from 'pino';
import { Observable, Subject } from 'rxjs';
import type { ReceivedMessage } from '../mqtt/received-message.js';

/**
 * Where every connection's messages leave the supervisor. Delivery is synchronous and never
 * waits on a consumer. Until the first consumer subscribes, messages are held (up to
 * `limit`), so a consumer that is wired up a few awaits after the supervisor starts still
 * sees the messages a persistent session replays on connect. Past the limit they are left
 * unacknowledged and the broker delivers them again on the next session.
 */
export class MessageOutlet {
  readonly #subject = new Subject<ReceivedMessage>();
  readonly #held: ReceivedMessage[] = [];
  readonly #limit: number;
  readonly #log: Logger;
  #subscribers = 0;
  #overflowed = false;

  /** Every message, hot; the first subscriber also gets the messages held until then. */
  readonly messages$: Observable<ReceivedMessage>;

  constructor(limit: number, log: Logger) {
    this.#limit = limit;
    this.#log = log;
    this.messages$ = new Observable<ReceivedMessage>((subscriber) => {
      for (const message of this.#held.splice(0)) subscriber.next(message);
      this.#subscribers += 1;
      const subscription = this.#subject.subscribe(subscriber);
      return () => {
        this.#subscribers -= 1;
        subscription.unsubscribe();
      };
    });
  }

  /** Hands one message on; called on the network path. */
  deliver(message: ReceivedMessage): void {
    if (this.#subscribers > 0) {
      this.#subject.next(message);
      return;
    }

    if (this.#held.length < this.#limit) {
      this.#held.push(message);
    } else if (!this.#overflowed) {
      this.#overflowed = true;
      this.#log.warn(
        { limit: this.#limit },
        'no message consumer yet, messages left to the broker',
      );
    }
  }

  /** Ends the stream. */
  complete(): void {
    this.#held.length = 0;
    this.#subject.complete();
  }
}
