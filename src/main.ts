import { ConfigError, loadConfig, type Config } from './config.js';
import { startEngine } from './engine.js';
import { createLogging, createPlainLogger, type Logging } from './logger.js';

/**
 * Process entry point: reads the environment once, starts the configured roles and stops them
 * on SIGTERM or SIGINT. A fatal error exits non-zero so the process manager restarts it.
 */
async function main(): Promise<void> {
  const config = readConfigOrExit();
  const logging = await createLogging(config);
  warnAboutDevelopmentDefaults(config, logging);

  const engine = await startEngine(config, logging).catch(async (error: unknown) => {
    logging.root.fatal({ err: error }, 'engine failed to start');
    await logging.close();
    process.exit(1);
  });

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
      .then(() => logging.close())
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logging.root.fatal({ err: error }, 'stop failed');
        process.exit(1);
      });
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

await main();
