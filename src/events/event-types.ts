import type { ConnectionStatus } from '../entities/index.js';

/** The Redis pub/sub channel (after the configured prefix) that carries every live event. */
export const EVENTS_CHANNEL = 'events';

/** A connection actor changed state. */
export interface ConnectionStateEvent {
  type: 'connection.state';
  siteId: number;
  connectionId: number;
  previous: ConnectionStatus;
  current: ConnectionStatus;
  reason: string;
  /** True when the actor is parked: no automatic retry will help. */
  parked: boolean;
  at: string;
}

/** A connected link went silent, or spoke again after being silent. */
export interface ConnectionSilenceEvent {
  type: 'connection.silent' | 'connection.receiving';
  siteId: number;
  connectionId: number;
  silentForMs: number;
  at: string;
}

/** New data was stored for a site; coalesced, at most a few per second per site. */
export interface DataUpdateEvent {
  type: 'data_update';
  siteId: number;
  readings: number;
  messages: number;
  gateways: string[];
  at: string;
}

/** A message was quarantined. */
export interface ParsingErrorEvent {
  type: 'parsing_error';
  siteId: number;
  topic: string;
  errorType: string;
  message: string;
  parsingLogId: number;
  at: string;
}

/** A gateway came online or went offline. */
export interface GatewayStatusEvent {
  type: 'gateway.online' | 'gateway.offline';
  siteId: number;
  serialNumber: string;
  reason: string;
  at: string;
}

/** Every event of the live stream. */
export type EngineEvent =
  | ConnectionStateEvent
  | ConnectionSilenceEvent
  | DataUpdateEvent
  | ParsingErrorEvent
  | GatewayStatusEvent;
