import { ApiKeySchema } from './api-key.entity.js';
import { DataloggerSchema } from './datalogger.entity.js';
import { DeviceSchema } from './device.entity.js';
import { DiscoveredTopicSchema } from './discovered-topic.entity.js';
import { GatewaySchema } from './gateway.entity.js';
import { MqttConnectionLogSchema } from './mqtt-connection-log.entity.js';
import { MqttConnectionSchema } from './mqtt-connection.entity.js';
import { MqttParsingLogSchema } from './mqtt-parsing-log.entity.js';
import { MqttTopicSchema } from './mqtt-topic.entity.js';
import { SensorReadingSchema } from './sensor-reading.entity.js';
import { SensorSchema } from './sensor.entity.js';
import { SiteSchema } from './site.entity.js';

export * from './api-key.entity.js';
export * from './datalogger.entity.js';
export * from './device.entity.js';
export * from './discovered-topic.entity.js';
export * from './gateway.entity.js';
export * from './mqtt-connection-log.entity.js';
export * from './mqtt-connection.entity.js';
export * from './mqtt-parsing-log.entity.js';
export * from './mqtt-topic.entity.js';
export * from './sensor-reading.entity.js';
export * from './sensor.entity.js';
export * from './site.entity.js';

/** Every entity of the data model, for the ORM's discovery. */
export const ENTITIES = [
  SiteSchema,
  MqttConnectionSchema,
  MqttTopicSchema,
  DiscoveredTopicSchema,
  MqttConnectionLogSchema,
  MqttParsingLogSchema,
  GatewaySchema,
  DataloggerSchema,
  DeviceSchema,
  SensorSchema,
  SensorReadingSchema,
  ApiKeySchema,
];
