import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger, type StreamEntry, type Level } from 'pino';
import pinoRoll from 'pino-roll';
import type { Config } from './config.js';

/** The file channels of SPEC section 11: each gets its own rotating file. */
export const LOG_CHANNELS = {
  connection: { name: 'mqtt.connection', fileLevel: 'info' },
  parsing: { name: 'mqtt.parsing', fileLevel: 'warn' },
} as const satisfies Record<string, { name: string; fileLevel: Level }>;

/** Each channel file rotates at this size and keeps this many files. */
export const LOG_FILE_SIZE = '10m';
export const LOG_FILES_KEPT = 5;

/** Field paths whose values never reach a log line: credentials, keys and session cookies. */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'secretKey',
  '*.secretKey',
  'apiKey',
  '*.apiKey',
  'api_key',
  '*.api_key',
  'token',
  '*.token',
  'key',
  '*.key',
  'authorization',
  '*.authorization',
  'cookie',
  '*.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
];

/** The engine's loggers: `root` for everything, plus one per file channel. */
export interface Logging {
  root: Logger;
  connection: Logger;
  parsing: Logger;
  close(): Promise<void>;
}

/** Options for createLogging; the size option exists so tests can rotate quickly. */
export interface LoggingOptions {
  /** Channel file size before rotation, pino-roll syntax ('10m') or bytes. Default 10m. */
  fileSize?: string | number;
  /** Where stdout lines go; defaults to the process's stdout. */
  stdout?: NodeJS.WritableStream;
}

type RollStream = Awaited<ReturnType<typeof pinoRoll>>;

/** Builds the root logger and the rotating channel loggers under LOG_DIR. */
export async function createLogging(
  config: Pick<Config, 'LOG_DIR' | 'LOG_LEVEL'>,
  options: LoggingOptions = {},
): Promise<Logging> {
  // pino-roll's own mkdir races its symlink step, so the folder exists before it starts.
  await mkdir(config.LOG_DIR, { recursive: true });
  const stdout = options.stdout ?? process.stdout;
  const root = pino(baseOptions(config.LOG_LEVEL), stdout);

  const files: RollStream[] = [];
  const openChannel = async (channel: (typeof LOG_CHANNELS)[keyof typeof LOG_CHANNELS]) => {
    const file = await pinoRoll({
      file: join(config.LOG_DIR, channel.name),
      extension: '.log',
      size: options.fileSize ?? LOG_FILE_SIZE,
      limit: { count: LOG_FILES_KEPT - 1 },
      mkdir: true,
    });
    files.push(file);
    return channelLogger(config.LOG_LEVEL, channel, file, stdout);
  };

  const connection = await openChannel(LOG_CHANNELS.connection);
  const parsing = await openChannel(LOG_CHANNELS.parsing);
  return { root, connection, parsing, close: () => closeStreams(files) };
}

/** A logger that writes only to the given stream; for tests and command-line tools. */
export function createPlainLogger(level: Level | 'silent' = 'info'): Logger {
  return pino(baseOptions(level));
}

function baseOptions(level: string) {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

function channelLogger(
  stdoutLevel: string,
  channel: { name: string; fileLevel: Level },
  file: RollStream,
  stdout: NodeJS.WritableStream,
): Logger {
  const streams: StreamEntry[] = [{ level: channel.fileLevel, stream: file }];
  if (stdoutLevel !== 'silent') {
    streams.push({ level: stdoutLevel as Level, stream: stdout });
  }

  const lowest = stdoutLevel === 'silent' ? channel.fileLevel : lowerLevel(stdoutLevel, channel);
  return pino(
    { ...baseOptions(lowest), name: channel.name },
    pino.multistream(streams, { dedupe: false }),
  );
}

function lowerLevel(stdoutLevel: string, channel: { fileLevel: Level }): string {
  const values = pino.levels.values;
  const stdoutValue = values[stdoutLevel] ?? values.info!;
  return stdoutValue < values[channel.fileLevel]! ? stdoutLevel : channel.fileLevel;
}

async function closeStreams(files: RollStream[]): Promise<void> {
  await Promise.all(
    files.map(
      (file) =>
        new Promise<void>((resolve) => {
          file.once('close', () => resolve());
          file.end();
        }),
    ),
  );
}
