import * as Sentry from '@sentry/node';
import type { Config } from '../config.js';
import { isAppError } from '../errors.js';

/** Ids that locate a reported exception; become Sentry tags. */
export interface ErrorTags {
  siteId?: number | undefined;
  connectionId?: number | undefined;
  component?: string | undefined;
  jobId?: string | undefined;
  topic?: string | undefined;
}

/** Sends unexpected exceptions to Sentry; expected outcomes never reach it. */
export interface ErrorReporter {
  readonly enabled: boolean;
  report(error: unknown, tags?: ErrorTags): void;
  /** Waits for queued reports to be sent, at most `timeoutMs`. */
  flush(timeoutMs?: number): Promise<boolean>;
}

const DISABLED: ErrorReporter = {
  enabled: false,
  report: () => undefined,
  flush: () => Promise.resolve(true),
};

/**
 * Starts Sentry when SENTRY_DSN is set, with environment and release from the configuration;
 * otherwise returns a reporter that does nothing. Call it before the rest of the engine is
 * imported so Sentry's instrumentation sees the modules load.
 */
export function createErrorReporter(
  config: Pick<Config, 'SENTRY_DSN' | 'ENVIRONMENT' | 'APP_VERSION'>,
): ErrorReporter {
  if (!config.SENTRY_DSN) return DISABLED;

  Sentry.init({
    dsn: config.SENTRY_DSN,
    environment: config.ENVIRONMENT,
    release: config.APP_VERSION,
    tracesSampleRate: 0,
  });
  return { enabled: true, report: reportToSentry, flush: (timeoutMs) => Sentry.flush(timeoutMs) };
}

/** True for failures a person should look at: not quarantined payloads or parked links. */
function isReportable(error: unknown): boolean {
  return isAppError(error) ? error.reportable : true;
}

function reportToSentry(error: unknown, tags: ErrorTags = {}): void {
  if (!isReportable(error)) return;

  Sentry.withScope((scope) => {
    for (const [name, value] of Object.entries(tagsOf(error, tags))) {
      if (value !== undefined) scope.setTag(name, value);
    }
    if (isAppError(error)) scope.setTag('error_code', error.code);
    Sentry.captureException(error);
  });
}

function tagsOf(error: unknown, tags: ErrorTags): Record<string, string | number | undefined> {
  const context = isAppError(error) ? error.context : {};
  return {
    site_id: tags.siteId ?? context.siteId,
    connection_id: tags.connectionId ?? context.connectionId,
    component: tags.component,
    job_id: tags.jobId ?? context.jobId,
    topic: tags.topic ?? context.topic,
  };
}
