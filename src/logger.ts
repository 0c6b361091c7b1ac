import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Level, type Logger, type LoggerOptions, type StreamEntry } from 'pino';
import pinoRoll from 'pino-roll';
import type { Config } from './config.js';
import type { ErrorReporter, ErrorTags } from './observability/error-reporter.js';

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
  /** Receives the `err` of every error and fatal line, with the line's ids as tags. */
  reporter?: ErrorReporter;
}

type RollStream = Awaited<ReturnType<typeof pinoRoll>>;
type LogMethodHook = NonNullable<NonNullable<LoggerOptions['hooks']>['logMethod']>;

const ERROR_LEVEL = pino.levels.values.error!;

/** Builds the root logger and the rotating channel loggers under LOG_DIR. */
export async function createLogging(
  config: Pick<Config, 'LOG_DIR' | 'LOG_LEVEL'>,
  options: LoggingOptions = {},
): Promise<Logging> {
  // pino-roll's own mkdir races its symlink step, so the folder exists before it starts.
  await mkdir(config.LOG_DIR, { recursive: true });
  const stdout = options.stdout ?? process.stdout;
  const base = (level: string) => baseOptions(level, options.reporter);
  const root = rootLogger(config.LOG_LEVEL, stdout, options.reporter);

  const files: RollStream[] = [];
  const openChannel = async (channel: (typeof LOG_CHANNELS)[keyof typeof LOG_CHANNELS]) => {
    const file = await pinoRoll({
      // pino-roll numbers files before the last extension: mqtt.connection.1.log, .2.log...
      file: join(config.LOG_DIR, `${channel.name}.log`),
      size: options.fileSize ?? LOG_FILE_SIZE,
      limit: { count: LOG_FILES_KEPT - 1 },
      mkdir: true,
    });
    files.push(file);
    return channelLogger(base, config.LOG_LEVEL, channel, file, stdout);
  };

  const connection = await openChannel(LOG_CHANNELS.connection);
  const parsing = await openChannel(LOG_CHANNELS.parsing);
  return { root, connection, parsing, close: () => closeStreams(files) };
}

/** A stdout-only logger with the same redaction, for tests and command-line tools. */
export function createPlainLogger(level: Level | 'silent' = 'info'): Logger {
  return pino(baseOptions(level));
}

// Error lines must reach the reporting hook even when stdout is quieter than `error`, so the
// logger's own level stays at most `error` and the stdout stream applies LOG_LEVEL.
function rootLogger(
  stdoutLevel: string,
  stdout: NodeJS.WritableStream,
  reporter: ErrorReporter | undefined,
): Logger {
  if (!reporter?.enabled) return pino(baseOptions(stdoutLevel), stdout);

  const streams: StreamEntry[] =
    stdoutLevel === 'silent' ? [] : [{ level: stdoutLevel as Level, stream: stdout }];
  const level = lowerLevel(stdoutLevel, { fileLevel: 'error' });
  return pino(baseOptions(level, reporter), pino.multistream(streams, { dedupe: false }));
}

function baseOptions(level: string, reporter?: ErrorReporter): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(reporter?.enabled ? { hooks: { logMethod: reportingHook(reporter) } } : {}),
  };
}

/**
 * Error and fatal lines are, by the house rule, what a person or Sentry must see: each one
 * carrying an `err` is reported, tagged with the ids bound to the logger and the line.
 */
function reportingHook(reporter: ErrorReporter): LogMethodHook {
  return function (this: Logger, args, method, level) {
    const [first] = args as unknown[];
    if (level >= ERROR_LEVEL && isObject(first) && first.err !== undefined) {
      reporter.report(first.err, tagsFrom({ ...this.bindings(), ...first }));
    }
    method.apply(this, args);
  };
}

function tagsFrom(fields: Record<string, unknown>): ErrorTags {
  const number = (value: unknown) => (typeof value === 'number' ? value : undefined);
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return {
    siteId: number(fields.siteId),
    connectionId: number(fields.connectionId),
    component: text(fields.component) ?? text(fields.name),
    jobId: text(fields.jobId),
    topic: text(fields.topic),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function channelLogger(
  base: (level: string) => LoggerOptions,
  stdoutLevel: string,
  channel: { name: string; fileLevel: Level },
  file: RollStream,
  stdout: NodeJS.WritableStream,
): Logger {
  const streams: StreamEntry[] = [{ level: channel.fileLevel, stream: file }];
  if (stdoutLevel !== 'silent') {
    streams.push({ level: stdoutLevel as Level, stream: stdout });
  }

  const lowest = lowerLevel(stdoutLevel, channel);
  return pino(
    { ...base(lowest), name: channel.name },
    pino.multistream(streams, { dedupe: false }),
  );
}

function lowerLevel(stdoutLevel: string, channel: { fileLevel: Level }): string {
  if (stdoutLevel === 'silent') return channel.fileLevel;
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
