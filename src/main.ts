import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogging, createPlainLogger, type Logging } from './logger.js';
import { createErrorReporter, type ErrorReporter } from './observability/error-reporter.js';

/**
 * Process entry point: reads the environment once, starts Sentry before the engine's modules
 * load, starts the configured roles and stops them on SIGTERM or SIGINT (a second signal
 * exits at once). A fatal error exits non-zero so the process manager restarts the process.
 */
async function main(): Promise<void> {
  const config = readConfigOrExit();
  const reporter = createErrorReporter(config);
  const logging = await createLogging(config, { reporter });
  warnAboutDevelopmentDefaults(config, logging);
  exitOnFatalErrors(logging, reporter);

  // Imported only now, so Sentry is initialised before the engine's modules are loaded.
  const { startEngine } = await import('./engine.js');
  const engine = await startEngine(config, logging).catch((error: unknown) =>
    exitFatally(logging, reporter, error, 'engine failed to start'),
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logging.root.warn({ signal }, 'second signal, exiting at once');
      process.exit(1);
    }
    stopping = true;
    logging.root.info({ signal }, 'stopping');
    engine
      .stop()
      .then(() => reporter.flush(2_000))
      .then(() => logging.close())
      .then(() => process.exit(0))
      .catch((error: unknown) => exitFatally(logging, reporter, error, 'stop failed'));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function readConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    createPlainLogger('error').fatal({ problems: error.problems }, error.message);
    process.exit(2);
  }
}

function warnAboutDevelopmentDefaults(config: Config, logging: Logging): void {
  if (!config.usesDevelopmentSecret) return;

  logging.root.warn(
    { environment: config.ENVIRONMENT },
    'SECRET_KEY is not set: broker passwords are encrypted with the public development key',
  );
}

// A role that breaks in a way nothing handled must not limp on: log, report, exit non-zero.
function exitOnFatalErrors(logging: Logging, reporter: ErrorReporter): void {
  process.on('uncaughtException', (error) => {
    void exitFatally(logging, reporter, error, 'uncaught exception');
  });
  process.on('unhandledRejection', (reason) => {
    void exitFatally(logging, reporter, reason, 'unhandled rejection');
  });
}

async function exitFatally(
  logging: Logging,
  reporter: ErrorReporter,
  error: unknown,
  message: string,
): Promise<never> {
  logging.root.fatal({ err: error }, message);
  await reporter.flush(2_000).catch(() => false);
  await logging.close().catch(() => undefined);
  process.exit(1);
}

await main();
