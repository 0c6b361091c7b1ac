/** MQTT delivery guarantee of a message or subscription. */
export type QoS = 0 | 1 | 2;

/**
 * A message as it leaves a connection actor for the ingest pipeline: raw bytes plus where and
 * when it arrived. For QoS 1 and 2 the broker is acknowledged only when `acknowledge` is
 * called, which the pipeline does once the message is safe in Redis; for QoS 0 it is a no-op.
 */
export interface ReceivedMessage {
  siteId: number;
  connectionId: number;
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  receivedAt: Date;
  acknowledge(): void;
}
