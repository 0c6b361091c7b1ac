/** Stable codes for every failure the engine reports; clients and dashboards key on these. */
export const ERROR_CODES = {
  PAYLOAD_NOT_JSON: { retryable: false, reportable: false },
  PAYLOAD_INVALID: { retryable: false, reportable: false },
  PAYLOAD_TOO_LARGE: { retryable: false, reportable: false },
  PARSER_NOT_FOUND: { retryable: false, reportable: false },
  PARSER_FAILED: { retryable: false, reportable: true },
  DB_UNAVAILABLE: { retryable: true, reportable: true },
  DB_CONFLICT: { retryable: false, reportable: false },
  REDIS_UNAVAILABLE: { retryable: true, reportable: true },
  MQTT_NETWORK: { retryable: true, reportable: false },
  MQTT_AUTH_REFUSED: { retryable: false, reportable: false },
  MQTT_NOT_AUTHORIZED: { retryable: false, reportable: false },
  MQTT_CONNECT_TIMEOUT: { retryable: true, reportable: false },
  MQTT_PROTOCOL: { retryable: true, reportable: true },
  CREDENTIAL_DECRYPT_FAILED: { retryable: false, reportable: true },
  NOT_FOUND: { retryable: false, reportable: false },
  VALIDATION_FAILED: { retryable: false, reportable: false },
  UNAUTHENTICATED: { retryable: false, reportable: false },
  FORBIDDEN: { retryable: false, reportable: false },
  CONFLICT: { retryable: false, reportable: false },
  INTERNAL: { retryable: false, reportable: true },
} as const satisfies Record<string, { retryable: boolean; reportable: boolean }>;

/** One of the engine's stable error codes. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Ids that locate a failure; never payload bodies or credentials. */
export interface ErrorContext {
  siteId?: number;
  connectionId?: number;
  topic?: string;
  jobId?: string;
  parserName?: string;
  [key: string]: string | number | boolean | undefined;
}

/** Options of an AppError beyond its code and message. */
export interface AppErrorOptions {
  cause?: unknown;
  context?: ErrorContext;
  /** Overrides the code's default: whether trying again may succeed. */
  retryable?: boolean;
}

/**
 * The engine's one error base. It carries a stable code, whether a retry can help, whether
 * Sentry should see it, the cause and the ids involved.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly reportable: boolean;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.reportable = ERROR_CODES[code].reportable;
    this.context = options.context ?? {};
  }
}

/** True when the value is an AppError, optionally with the given code. */
export function isAppError(value: unknown, code?: ErrorCode): value is AppError {
  return value instanceof AppError && (code === undefined || value.code === code);
}

/** Name and stack of any thrown value, for the exception_type/traceback log columns. */
export function describeException(error: unknown): { type: string; traceback: string } {
  if (error instanceof Error) {
    const type = isAppError(error) ? `${error.name}:${error.code}` : error.name;
    return { type, traceback: error.stack ?? error.message };
  }
  return { type: typeof error, traceback: String(error) };
}
