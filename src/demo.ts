import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { parseConfig, type Config } from './config.js';
import { createLogging } from './logger.js';
import { createFleet } from './simulator/fleet.js';
import { startSimulator, type Simulator } from './simulator/gateway-simulator.js';

/** The demo's admin key: printed at start, good only for a local demo database. */
export const DEMO_ADMIN_KEY = 'demo-admin-key-not-for-production';

const DEMO_SITE_CODE = 'demo_site';
const DEMO_BROKER_PORT = 1884;

/**
 * `npm run demo`: an embedded broker (aedes), a demo site whose connection and topics point at
 * it, the engine with every role, and a gateway simulator publishing telemetry and status,
 * with the occasional malformed payload, an unconfigured topic and a gateway that goes
 * silent. Needs only PostgreSQL and Redis; uses its own database (`sitewire_demo`).
 */
async function runDemo(): Promise<void> {
  const config = demoConfig();
  const logging = await createLogging(config);
  const broker = await startBroker(Number(process.env.DEMO_BROKER_PORT ?? DEMO_BROKER_PORT));
  const { startEngine } = await import('./engine.js');
  const engine = await startEngine(config, logging);
  const siteId = await seedDemoSite(engine, broker.port);
  const simulator = await startDemoTraffic(broker.port);
  printWelcome(engine.address, broker.port, siteId);

  const stop = () => {
    void (async () => {
      await simulator.stop();
      await engine.stop();
      await logging.close();
      await broker.close();
      process.exit(0);
    })();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function demoConfig(): Config {
  return parseConfig({
    DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/sitewire_demo',
    ADMIN_API_KEY: DEMO_ADMIN_KEY,
    SECRET_KEY: 'demo-secret-key-not-for-production',
    LOG_LEVEL: 'warn',
    REDIS_PREFIX: 'sitewire-demo',
    ...process.env,
  });
}

async function startBroker(port: number): Promise<{ port: number; close(): Promise<void> }> {
  const aedes = await Aedes.createBroker();
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    port: actualPort,
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type DemoEngine = Awaited<ReturnType<typeof import('./engine.js').startEngine>>;

// Through the API, as an operator would: a site, its connection, two configured topics.
async function seedDemoSite(engine: DemoEngine, brokerPort: number): Promise<number> {
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${engine.address}${path}`, {
      method,
      headers: { authorization: `Bearer ${DEMO_ADMIN_KEY}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await response.json()) as Record<string, unknown> & { items?: unknown[] };
  };

  const sites = await call('GET', '/api/sites?limit=500');
  const existing = (sites.items as Array<{ id: number; name: string }> | undefined)?.find(
    (site) => site.name === 'Demo site',
  );
  const siteId =
    existing?.id ?? ((await call('POST', '/api/sites', { name: 'Demo site' })).id as number);
  await call('PUT', `/api/sites/${siteId}/connection`, {
    broker_host: '127.0.0.1',
    broker_port: brokerPort,
    client_id_prefix: 'sitewire-demo',
    discovery_pattern: `${DEMO_SITE_CODE}/#`,
    is_active: true,
  });
  for (const [pattern, parser] of [
    [`${DEMO_SITE_CODE}/gateway/+/dataloggers/telemetry`, 'telemetry'],
    [`${DEMO_SITE_CODE}/gateway/+/status`, 'gateway_status'],
  ] as const) {
    await call('POST', `/api/sites/${siteId}/connection/topics`, {
      topic_pattern: pattern,
      parser_name: parser,
      qos_level: 1,
    });
  }
  return siteId;
}

async function startDemoTraffic(brokerPort: number): Promise<Simulator> {
  const brokerUrl = `mqtt://127.0.0.1:${brokerPort}`;
  const fleet = createFleet({ seed: 2026, siteCodes: [DEMO_SITE_CODE], gatewaysPerSite: 4 });
  const simulator = await startSimulator({
    brokerUrl,
    fleet,
    messagesPerSecond: 4,
    qos: 1,
    malformedEvery: 25,
    silentGateways: 1,
    silenceAfterMs: 20_000,
  });

  // A weather station nobody configured: it shows up in the catalogue, and is not parsed.
  const station = await mqtt.connectAsync(brokerUrl, { clientId: 'sitewire-demo-weather' });
  const timer = setInterval(() => {
    const reading = { wind_ms: Math.round(Math.random() * 120) / 10, at: new Date() };
    station.publish(`${DEMO_SITE_CODE}/weather/station-1`, JSON.stringify(reading), { qos: 0 });
  }, 2_000);
  return {
    ...simulator,
    stop: async () => {
      clearInterval(timer);
      await station.endAsync();
      return simulator.stop();
    },
  };
}

function printWelcome(address: string, brokerPort: number, siteId: number): void {
  const base = address.replace('0.0.0.0', 'localhost').replace('127.0.0.1', 'localhost');
  const lines = [
    '',
    'sitewire demo is running',
    `  admin key         ${DEMO_ADMIN_KEY}`,
    `  embedded broker   mqtt://127.0.0.1:${brokerPort}`,
    `  demo site         ${siteId}`,
    `  API docs          ${base}/docs`,
    `  login             ${base}/login`,
    `  queue dashboard   ${base}/admin/queues`,
    `  machines          ${base}/debug/machines`,
    `  live stream       ${base.replace('http', 'ws')}/ws?token=${DEMO_ADMIN_KEY}`,
    `  readings          curl -H 'authorization: Bearer ${DEMO_ADMIN_KEY}' ${base}/api/sites/${siteId}/gateways`,
    '',
    'Ctrl-C stops it.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

await runDemo();
