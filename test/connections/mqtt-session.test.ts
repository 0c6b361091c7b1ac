import { ErrorWithReasonCode } from 'mqtt';
import { describe, expect, it } from 'vitest';
import {
  classifyMqttError,
  clientOptionsOf,
  sameBroker,
  subscriptionsOf,
  type ConnectionSettings,
} from '../../src/mqtt/mqtt-session.js';

const refused = (code: number) => new ErrorWithReasonCode('Connection refused', code);

const settings: ConnectionSettings = {
  connectionId: 4,
  siteId: 12,
  broker: {
    host: 'broker.example',
    port: 8883,
    useTls: true,
    caCert: '-----BEGIN CERTIFICATE-----',
    username: 'gw',
    passwordEncrypted: 'v1:x:y:z',
    clientIdPrefix: 'plant',
  },
  subscriptions: [],
};

const session = {
  KEEPALIVE_SECONDS: 30,
  CONNECT_TIMEOUT_MS: 10_000,
  MQTT_PROTOCOL_VERSION: 4 as const,
  MQTT_SESSION_EXPIRY_SECONDS: 3600,
};

describe('MQTT session settings', () => {
  it('treats CONNACK refusals of identity or rights as final, for 3.1.1 and 5', () => {
    expect(classifyMqttError(refused(4), 4)).toMatchObject({
      code: 'MQTT_AUTH_REFUSED',
      retryable: false,
    });
    expect(classifyMqttError(refused(5), 4).code).toBe('MQTT_NOT_AUTHORIZED');
    expect(classifyMqttError(refused(0x86), 5).code).toBe('MQTT_AUTH_REFUSED');
    expect(classifyMqttError(refused(0x87), 5).code).toBe('MQTT_NOT_AUTHORIZED');
  });

  it('retries network failures and refusals a retry can cure', () => {
    const unavailable = classifyMqttError(refused(3), 4);
    const busy = classifyMqttError(refused(0x89), 5);
    const network = classifyMqttError(
      Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
      4,
    );

    for (const error of [unavailable, busy, network]) {
      expect(error).toMatchObject({ code: 'MQTT_NETWORK', retryable: true });
    }
  });

  it('adds the discovery pattern at QoS 1, none when blank, and keeps the highest QoS', () => {
    const topics = [
      { pattern: 'a/+/b', qos: 0 as const },
      { pattern: 'a/+/b', qos: 2 as const },
    ];

    expect(subscriptionsOf(topics, '#')).toEqual([
      { pattern: '#', qos: 1 },
      { pattern: 'a/+/b', qos: 2 },
    ]);
    expect(subscriptionsOf(topics, '  ')).toEqual([{ pattern: 'a/+/b', qos: 2 }]);
    expect(subscriptionsOf([{ pattern: '#', qos: 2 }], '#')).toEqual([{ pattern: '#', qos: 2 }]);
  });

  it('opens a persistent session with a stable client id and no reconnect of its own', () => {
    const v4 = clientOptionsOf(settings, 'secret', session);
    const v5 = clientOptionsOf(settings, 'secret', { ...session, MQTT_PROTOCOL_VERSION: 5 });

    expect(v4).toMatchObject({
      clientId: 'plant-12',
      clean: false,
      reconnectPeriod: 0,
      protocol: 'mqtts',
      ca: ['-----BEGIN CERTIFICATE-----'],
      username: 'gw',
      password: 'secret',
    });
    expect(v4.properties).toBeUndefined();
    expect(v5.properties).toEqual({ sessionExpiryInterval: 3600 });
  });

  it('tells broker changes from subscription-only changes', () => {
    expect(sameBroker(settings.broker, { ...settings.broker })).toBe(true);
    expect(sameBroker(settings.broker, { ...settings.broker, passwordEncrypted: 'v1:n' })).toBe(
      false,
    );
  });
});
