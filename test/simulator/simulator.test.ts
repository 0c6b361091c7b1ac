import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { createFleet, readingsPerMessage } from '../../src/simulator/fleet.js';
import { startSimulator } from '../../src/simulator/gateway-simulator.js';
import { telemetryPayload } from '../../src/simulator/payloads.js';
import { uniqueName } from '../support/config.js';

describe('gateway simulator', () => {
  it('builds the same fleet and payloads from the same seed', () => {
    const options = { seed: 42, siteCodes: ['site_001', 'site_002'], gatewaysPerSite: 3 };
    const first = createFleet(options);
    const second = createFleet(options);
    const at = new Date('2026-12-03T15:00:00Z');

    expect(first).toEqual(second);
    expect(telemetryPayload(first[0]!, at, 7)).toEqual(telemetryPayload(second[0]!, at, 7));
    expect(createFleet({ ...options, seed: 43 })).not.toEqual(first);
  });

  it('keeps every gateway within the documented shape', () => {
    const fleet = createFleet({ seed: 1, siteCodes: ['s'], gatewaysPerSite: 50 });

    for (const gateway of fleet) {
      expect(gateway.dataloggers.length).toBeGreaterThanOrEqual(1);
      expect(gateway.dataloggers.length).toBeLessThanOrEqual(3);
      for (const datalogger of gateway.dataloggers) {
        expect(datalogger.devices.length).toBeGreaterThanOrEqual(1);
        expect(datalogger.devices.length).toBeLessThanOrEqual(4);
        for (const device of datalogger.devices) {
          expect(device.sensors.length).toBeGreaterThanOrEqual(2);
          expect(device.sensors.length).toBeLessThanOrEqual(5);
        }
      }
      const payload = telemetryPayload(gateway, new Date(), 0);
      expect(payload.dataloggers).toHaveLength(gateway.dataloggers.length);
      expect(readingsPerMessage(gateway)).toBeGreaterThanOrEqual(2);
    }
  });

  it('publishes the requested number of messages, with the malformed share', async () => {
    const siteCode = uniqueName('sim');
    const fleet = createFleet({ seed: 5, siteCodes: [siteCode], gatewaysPerSite: 4 });
    const observer = await mqtt.connectAsync('mqtt://127.0.0.1:1883');
    const received: string[] = [];
    observer.on('message', (_topic, payload) => received.push(payload.toString()));
    await observer.subscribeAsync(`${siteCode}/gateway/+/dataloggers/telemetry`, { qos: 1 });

    const simulator = await startSimulator({
      brokerUrl: 'mqtt://127.0.0.1:1883',
      fleet,
      messagesPerSecond: 500,
      qos: 1,
      malformedEvery: 10,
      maxMessages: 100,
    });
    const stats = await simulator.finished;
    await simulator.stop();
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(100);
    await observer.endAsync();

    expect(stats).toMatchObject({ published: 100, acknowledged: 100, malformed: 10, failed: 0 });
    const unparsable = received.filter((text) => {
      try {
        JSON.parse(text);
        return false;
      } catch {
        return true;
      }
    });
    expect(unparsable).toHaveLength(10);
  });
});
