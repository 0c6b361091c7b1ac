import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createLogging, LOG_FILES_KEPT, type Logging } from '../../src/logger.js';
import { createErrorReporter } from '../../src/observability/error-reporter.js';
import { startSentrySink, type SentrySink } from '../support/sentry-sink.js';

describe('log channels', () => {
  let folder: string;
  let logging: Logging | undefined;
  let sink: SentrySink | undefined;

  afterEach(async () => {
    await logging?.close();
    await sink?.close();
    await rm(folder, { recursive: true, force: true });
    logging = undefined;
    sink = undefined;
  });

  async function open(options: Parameters<typeof createLogging>[1] = {}) {
    folder = await mkdtemp(join(tmpdir(), 'sitewire-logs-'));
    const stdout = new PassThrough();
    logging = await createLogging({ LOG_DIR: folder, LOG_LEVEL: 'silent' }, { stdout, ...options });
    return logging;
  }

  async function channelText(name: string): Promise<string> {
    const files = (await readdir(folder)).filter((file) => file.startsWith(name));
    const texts = await Promise.all(files.map((file) => readFile(join(folder, file), 'utf8')));
    return texts.join('');
  }

  it('writes connection lines from info up and parsing lines from warn up', async () => {
    const { connection, parsing, close } = await open();

    connection.debug({ connectionId: 1 }, 'connection debug line');
    connection.info({ connectionId: 1 }, 'connection info line');
    parsing.info({ topic: 'a' }, 'parsing info line');
    parsing.warn({ topic: 'a' }, 'parsing warn line');
    await close();
    logging = undefined;

    const connectionText = await channelText('mqtt.connection');
    const parsingText = await channelText('mqtt.parsing');
    expect(connectionText).toContain('connection info line');
    expect(connectionText).not.toContain('connection debug line');
    expect(parsingText).toContain('parsing warn line');
    expect(parsingText).not.toContain('parsing info line');
    expect(JSON.parse(connectionText.split('\n')[0]!)).toMatchObject({ name: 'mqtt.connection' });
  });

  it('rotates a channel file at its size and keeps a bounded number of files', async () => {
    const { connection, close } = await open({ fileSize: '2k' });

    for (let line = 0; line < 400; line += 1) {
      connection.info({ line, padding: 'x'.repeat(80) }, 'filler');
      if (line % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await close();
    logging = undefined;

    const files = (await readdir(folder)).filter((file) => file.startsWith('mqtt.connection'));
    expect(files.length).toBeGreaterThan(1);
    expect(files.length).toBeLessThanOrEqual(LOG_FILES_KEPT);
  });

  it('never writes a secret passed to a log call', async () => {
    const { connection, parsing, close } = await open();

    connection.info(
      { password: 'pw-in-clear', connection: { password: 'nested-pw' }, apiKey: 'key-123456' },
      'settings applied',
    );
    parsing.warn({ authorization: 'Bearer tok-987654', secretKey: 'sk-abcdef' }, 'odd request');
    await close();
    logging = undefined;

    const text = (await channelText('mqtt.connection')) + (await channelText('mqtt.parsing'));
    for (const secret of ['pw-in-clear', 'nested-pw', 'key-123456', 'tok-987654', 'sk-abcdef']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('[redacted]');
  });

  it('reports error lines to Sentry with their ids, and not expected outcomes', async () => {
    sink = await startSentrySink();
    const reporter = createErrorReporter({
      SENTRY_DSN: sink.dsn,
      ENVIRONMENT: 'test',
      APP_VERSION: '9.9.9',
    });
    const { connection, parsing } = await open({ reporter });

    connection
      .child({ siteId: 7, connectionId: 3 })
      .error({ err: new Error('broker exploded') }, 'unexpected failure');
    parsing.warn(
      { err: new AppError('PAYLOAD_INVALID', 'bad payload'), siteId: 7 },
      'message quarantined',
    );
    connection.error({ err: new AppError('MQTT_AUTH_REFUSED', 'refused'), siteId: 7 }, 'parked');
    await reporter.flush(5_000);

    expect(sink.events).toHaveLength(1);
    const [event] = sink.events;
    expect(event!.exception.values[0].value).toBe('broker exploded');
    expect(event!.tags).toMatchObject({ site_id: 7, connection_id: 3 });
    expect(event!.environment).toBe('test');
    expect(event!.release).toBe('9.9.9');
  });
});
