import type { MikroORM } from '@mikro-orm/postgresql';
import { waitUntil } from './connection-harness.js';

/**
 * Waits until `topics` configured topics are subscribed on a connected link. Connected alone
 * is not enough before publishing: a QoS 1 message sent before the SUBACK reaches nobody.
 */
export async function waitForSubscribedConnection(
  orm: MikroORM,
  topics: number,
  timeoutMs = 30_000,
): Promise<void> {
  const subscribed = async () => {
    const [row] = await orm.em.getConnection().execute<Array<{ n: number }>>(
      `select count(*)::int as n from mqtt_topic t
       join mqtt_connection c on c.id = t.mqtt_connection_id
       where c.status = 'connected' and t.last_subscribed_at is not null`,
    );
    return row!.n >= topics;
  };
  await waitUntil(subscribed, timeoutMs, 'a connected and subscribed connection');
}
