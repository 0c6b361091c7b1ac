import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { MqttConnectionSchema } from './mqtt-connection.entity.js';

/** A configured subscription pattern of a connection, with its parser and QoS. */
export const MqttTopicSchema = defineEntity({
  name: 'MqttTopic',
  tableName: 'mqtt_topic',
  uniques: [{ properties: ['mqttConnection', 'topicPattern'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    mqttConnection: p.manyToOne(MqttConnectionSchema).deleteRule('cascade'),
    topicPattern: p.string().length(255),
    isActive: p.boolean().default(true),
    qosLevel: p.smallint().default(0),
    description: p.text().default(''),
    parserName: p.string().length(100).default(''),
    subscriptionCount: p.integer().default(0),
    lastSubscribedAt: p.datetime().nullable(),
  },
});

/** An MqttTopic row. */
export type MqttTopic = InferEntity<typeof MqttTopicSchema>;
