import mqtt, { type MqttClient } from 'mqtt';

/**
 * Counts connected clients as the broker sees them, from Mosquitto's
 * `$SYS/broker/clients/connected` (published every sys_interval, 1 s here): the engine's own
 * status columns are not what is measured. The monitor's own connection is not counted.
 */
export interface BrokerMonitor {
  /** Clients connected at the last report, the monitor excluded. */
  connected(): number;
  /** Every report so far: time (ms, performance.now) and count. */
  history: Array<{ at: number; connected: number }>;
  close(): Promise<void>;
}

/** Subscribes to the broker's client count; reconnects by itself across broker restarts. */
export async function monitorBroker(url: string): Promise<BrokerMonitor> {
  const client: MqttClient = await mqtt.connectAsync(url, {
    clientId: `bench-monitor-${process.pid}`,
    reconnectPeriod: 200,
  });
  const history: BrokerMonitor['history'] = [];
  const subscribe = () => client.subscribe('$SYS/broker/clients/connected', { qos: 0 });
  client.on('connect', subscribe);
  client.on('error', () => undefined);
  client.on('message', (_topic, payload) => {
    history.push({ at: performance.now(), connected: Number(payload.toString()) - 1 });
  });
  subscribe();
  return {
    connected: () => history.at(-1)?.connected ?? 0,
    history,
    close: () => client.endAsync(),
  };
}
