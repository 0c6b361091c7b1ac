import { existsSync, mkdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startConnectionSupervisor,
  type ConnectionSupervisor,
} from '../../src/connections/connection-supervisor.js';
import { EventPublisher } from '../../src/events/event-bus.js';
import { createPlainLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { openRedis } from '../../src/redis.js';
import { createApiHarness, type ApiHarness } from '../support/api-harness.js';
import { testConfig, uniqueName } from '../support/config.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = new URL('../screenshots/', import.meta.url).pathname;
const hasChromium = existsSync(CHROMIUM);

if (!hasChromium) {
  console.warn(
    `\n${'!'.repeat(78)}\n!! BROWSER TESTS SKIPPED: ${CHROMIUM} is missing.\n` +
      `!! Install it with: apt-get update && apt-get install -y chromium\n${'!'.repeat(78)}\n`,
  );
}

describe.skipIf(!hasChromium)('pages in a real browser', () => {
  let harness: ApiHarness;
  let app: FastifyInstance;
  let supervisor: ConnectionSupervisor;
  let supervisorRedis: Redis;
  let browser: Browser;
  let page: Page;
  let base: string;
  let siteId: number;
  let connectionId: number;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    harness = await createApiHarness('browser');
    supervisorRedis = openRedis('redis://127.0.0.1:6379');
    supervisor = await startConnectionSupervisor({
      config: testConfig({
        DATABASE_URL: harness.database.url,
        REDIS_PREFIX: harness.prefix,
        RETRY_BASE_MS: '100',
        RETRY_CAP_MS: '1000',
      }),
      orm: harness.database.orm,
      logging: { root: createPlainLogger('silent'), connection: createPlainLogger('silent') },
      events: new EventPublisher(supervisorRedis, harness.prefix),
      metrics: createMetrics(),
    });
    app = await harness.build({
      inspection: supervisor.inspection,
      connectionHealth: (id) => supervisor.connectionHealth(id),
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  });

  afterAll(async () => {
    await browser?.close();
    await supervisor?.stop();
    supervisorRedis?.disconnect();
    await harness?.close();
  });

  async function api(method: string, path: string, body?: unknown) {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${harness.keys.admin}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    harness.record(text);
    return { status: response.status, json: JSON.parse(text) as Record<string, unknown> };
  }

  it('logs in with a key and lands on the visualizer', async () => {
    const site = await api('POST', '/api/sites', { name: uniqueName('browser site') });
    siteId = site.json.id as number;
    const connection = await api('PUT', `/api/sites/${siteId}/connection`, {
      broker_host: '127.0.0.1',
      broker_port: 1883,
      client_id_prefix: uniqueName('sw-browser').slice(0, 40),
      discovery_pattern: '',
    });
    expect(connection.status).toBe(201);
    connectionId = connection.json.id as number;

    await page.goto(`${base}/debug/machines`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#key', harness.keys.admin);
    await Promise.all([page.waitForURL(`${base}/debug/machines`), page.click('button')]);
    await page.screenshot({ path: `${SCREENSHOTS}login-landing.png` });
  });

  it('shows the ingest queue on Bull Board', async () => {
    await page.goto(`${base}/admin/queues`);
    await page.getByText('ingest', { exact: true }).first().click({ timeout: 15_000 });
    await page.waitForURL(/\/admin\/queues\/queue\/ingest/);
    await page.getByText('Loading', { exact: false }).waitFor({ state: 'detached' });
    await page.screenshot({ path: `${SCREENSHOTS}bull-board.png` });
    expect(await page.content()).toContain('ingest');
  });

  it("shows a connection's current state and follows a stop without reloading", async () => {
    await page.goto(`${base}/debug/machines`);
    const card = page.locator(`[data-actor-id="connection:${connectionId}"]`);
    await card.locator('.state-value', { hasText: 'connected' }).waitFor({ timeout: 15_000 });
    await page.waitForFunction('document.body.dataset.live === "true"');
    expect(await card.locator('svg [data-state="connected"].active').count()).toBe(1);
    await page.screenshot({ path: `${SCREENSHOTS}visualizer-connected.png`, fullPage: true });

    // A marker on the window survives only if the page is not reloaded.
    await page.evaluate('window.sameDocument = true');
    const stopped = await api('POST', `/api/sites/${siteId}/connection/stop`);
    expect(stopped.json).toMatchObject({ success: true, is_active: false });

    await card.locator('.stopped-mark').waitFor({ timeout: 15_000 });
    expect(await card.getAttribute('class')).toContain('stopped');
    const sameDocument = await page.evaluate('window.sameDocument === true');
    expect(sameDocument).toBe(true);
    await page.screenshot({ path: `${SCREENSHOTS}visualizer-stopped.png`, fullPage: true });
  });

  it('opens the interactive API docs', async () => {
    await page.goto(`${base}/docs`);
    await page.getByText('sitewire control API').first().waitFor({ timeout: 15_000 });
    await page.screenshot({ path: `${SCREENSHOTS}docs.png` });
  });
});
