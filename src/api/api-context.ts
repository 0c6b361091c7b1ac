import type { MikroORM } from '@mikro-orm/postgresql';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AnyStateMachine } from 'xstate';
import type { Config } from '../config.js';
import type { MachineInspectionSource } from '../connections/inspection.js';
import type { CredentialCipher } from '../crypto.js';
import type { ReplayResult, ReplaySelection } from '../ingest/parsing-log.replay.js';

/** One registered parser as the API lists it. */
export interface ParserDescription {
  parserName: string;
  topicFilter: string;
  description?: string;
}

/** The part of the parser registry the API reads. */
export interface ParserCatalogue {
  list(): ParserDescription[];
}

/** Runs quarantined messages through their parsers again (ingest's replayParsingLogs). */
export type ReplayFunction = (selection: ReplaySelection) => Promise<ReplayResult>;

export type { ReplayResult, ReplaySelection };

/** What the engine knows about a link beyond its status columns. */
export interface ConnectionHealth {
  /** Connected at TCP level but nothing received for too long. */
  silent: boolean;
  silentForMs?: number;
}

/** The machine definitions the visualizer draws. */
export interface MachineDefinitions {
  connection?: AnyStateMachine;
  supervisor?: AnyStateMachine;
}

/** Timing knobs of the live WebSocket stream; tests shorten them. */
export interface LiveStreamOptions {
  /** Milliseconds between pings; a client that missed the previous pong is dropped. 30 000. */
  pingIntervalMs?: number;
  /** Bytes queued for one client before it is dropped as too slow. Default 1 MiB. */
  maxBufferedBytes?: number;
}

/** What the HTTP layer needs from the rest of the engine. */
export interface AppDependencies {
  config: Config;
  orm: MikroORM;
  /** General-purpose Redis connection (readiness, and duplicated for the event subscriber). */
  redis: Redis;
  logger: Logger;
  /** Live actors for the machine visualizer. */
  inspection?: MachineInspectionSource;
  /** Machine definitions for the visualizer's charts; default: the engine's own machines. */
  machines?: MachineDefinitions;
  /** The parser registry, listed by GET /api/parsers and used to check parser names. */
  registry?: ParserCatalogue;
  /** Replays quarantined messages (POST /api/parsing-logs/replay). */
  replay?: ReplayFunction;
  /** Extra health of a connection (`silent`), by connection id. */
  connectionHealth?: (connectionId: number) => ConnectionHealth | undefined;
  /** Queues shown by Bull Board; by default the app opens the ingest and maintenance queues. */
  queues?: Queue[];
  /** Failed-authentication limit per client address (default 10 per 60 s). */
  authFailureLimit?: { maxFailures?: number; windowMs?: number };
  live?: LiveStreamOptions;
}

/** The dependencies as route files see them, with the shared helpers built once. */
export interface ApiContext extends AppDependencies {
  cipher: CredentialCipher;
}

/** The Fastify instance routes are declared on: zod schemas typed end to end. */
export type ZodApp = ReturnType<typeof withZod>;

/** Switches an instance to the zod type provider. */
export function withZod(app: FastifyInstance) {
  return app.withTypeProvider<ZodTypeProvider>();
}
