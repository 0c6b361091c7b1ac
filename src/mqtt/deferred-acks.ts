import type { MqttClient, Packet } from 'mqtt';

/**
 * Holds back the PUBACK (QoS 1) and PUBREC (QoS 2) of delivered messages until the engine
 * says the message is safe, without holding back the client's packet loop.
 *
 * Why not mqtt.js's own hooks: mqtt.js reads incoming packets strictly one after another, and
 * the next packet is handled only once the previous one's handler calls `done`. Both ways it
 * offers to defer an ack sit in front of that `done`: overriding `handleMessage` (measured)
 * and `customHandleAcks`, MQTT 5 only (same code path in handlers/publish.js). Measured
 * against Mosquitto 2 with mqtt.js 5.16 (test/connections/deferred-ack.test.ts): while the
 * first QoS 1 message waits for its ack the second is not delivered, and it arrives as soon
 * as the first is acked. Nothing else is read meanwhile either, PINGRESP included: with a
 * 1 s keepalive, one ack held for 3 s ended the connection with "Keepalive timeout" after
 * about 1.5 s. Deferring that way would serialise deliveries to one per Redis round trip and
 * let a slow Redis drop the link.
 *
 * So the client's internal `_sendPacket` is wrapped instead: for a tracked message the ack
 * packet is kept aside and mqtt.js is told it was sent, so it reads on at once; calling the
 * message's acknowledge function writes the kept packet. Acks belong to one network
 * connection: once it is gone they are dropped, and the broker redelivers those messages on
 * the next session (the persistent session keeps them).
 */
export interface DeferredAcks {
  /** Registers a QoS 1/2 message by packet id; returns the function that acknowledges it. */
  track(messageId: number): () => void;
  /** Forgets every held ack: the network connection they belonged to is gone. */
  clear(): void;
}

type SendPacket = (packet: Packet, done?: (error?: Error) => void, ...rest: unknown[]) => void;

interface HeldAck {
  acknowledged: boolean;
  send?: () => void;
}

/** Wraps the client's ack writing; call before `connect()`. */
export function deferAcks(client: MqttClient): DeferredAcks {
  const held = new Map<number, HeldAck>();
  const internals = client as unknown as { _sendPacket?: SendPacket };
  // A private method: pinned mqtt.js version, and the redelivery tests fail if it changes.
  if (typeof internals._sendPacket !== 'function') {
    throw new Error('mqtt.js no longer has _sendPacket: deferred acknowledgement needs rework');
  }
  const sendPacket = internals._sendPacket.bind(client);

  internals._sendPacket = (packet, done, ...rest) => {
    const entry = isHeldAck(packet) ? held.get(packet.messageId) : undefined;
    if (!entry || entry.acknowledged) {
      if (entry) held.delete((packet as { messageId: number }).messageId);
      sendPacket(packet, done, ...rest);
      return;
    }

    entry.send = () => sendPacket(packet);
    // Reporting the ack as written lets mqtt.js read the next packet now.
    done?.();
  };

  return {
    track: (messageId) => trackAck(client, held, messageId),
    clear: () => held.clear(),
  };
}

function trackAck(client: MqttClient, held: Map<number, HeldAck>, messageId: number) {
  const entry: HeldAck = { acknowledged: false };
  held.set(messageId, entry);
  return () => {
    // A stale acknowledge must never ack a later message that reuses the packet id.
    if (held.get(messageId) !== entry || entry.acknowledged) return;

    entry.acknowledged = true;
    if (!entry.send) return;

    held.delete(messageId);
    if (client.connected) entry.send();
  };
}

function isHeldAck(packet: Packet): packet is Packet & { messageId: number } {
  return (
    (packet.cmd === 'puback' || packet.cmd === 'pubrec') &&
    typeof (packet as { messageId?: unknown }).messageId === 'number'
  );
}
