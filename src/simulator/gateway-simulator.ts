import mqtt, { type MqttClient } from 'mqtt';
import type { QoS } from '../mqtt/received-message.js';
import { readingsPerMessage, type SimulatedGateway } from './fleet.js';
import { statusPayload, statusTopic, telemetryPayload, telemetryTopic } from './payloads.js';

/** Options of startSimulator. */
export interface SimulatorOptions {
  brokerUrl: string;
  fleet: SimulatedGateway[];
  /** Telemetry messages per second across the whole fleet. */
  messagesPerSecond: number;
  qos: QoS;
  /** Every Nth message is replaced by a malformed one; 0 (default) for none. */
  malformedEvery?: number;
  /** Stop after this many telemetry messages; unbounded by default. */
  maxMessages?: number;
  /** This many gateways (the last ones) stop publishing after `silenceAfterMs`. */
  silentGateways?: number;
  silenceAfterMs?: number;
  /** Timestamps start here and never repeat per gateway; default now. */
  startTime?: Date;
  /** Publishes still awaiting the broker's acknowledgement before pacing waits; default 1000. */
  maxInFlight?: number;
}

/** What a simulator has done so far. */
export interface SimulatorStats {
  published: number;
  malformed: number;
  acknowledged: number;
  failed: number;
  readings: number;
}

/** A running simulator. */
export interface Simulator {
  stats(): SimulatorStats;
  /** Resolves once maxMessages were published and acknowledged. */
  finished: Promise<SimulatorStats>;
  stop(): Promise<SimulatorStats>;
}

const TICK_MS = 10;

/**
 * Publishes telemetry for a simulated fleet at a paced rate, with status messages at start,
 * the occasional malformed payload and gateways that go silent (their last will is published
 * as a retained `offline` status).
 */
export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const client = await mqtt.connectAsync(options.brokerUrl, {
    clientId: `sitewire-simulator-${process.pid}-${Date.now()}`,
    reconnectPeriod: 1_000,
  });
  const run = new SimulatorRun(client, options);
  await run.announce();
  run.start();
  return {
    stats: () => run.stats(),
    finished: run.finished,
    stop: () => run.stop(),
  };
}

class SimulatorRun {
  readonly #client: MqttClient;
  readonly #options: SimulatorOptions;
  readonly #stats: SimulatorStats = {
    published: 0,
    malformed: 0,
    acknowledged: 0,
    failed: 0,
    readings: 0,
  };
  readonly #lastTimestamp = new Map<string, number>();
  readonly #startedAt = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #next = 0;
  #silenced = false;
  #resolveFinished: (stats: SimulatorStats) => void = () => undefined;
  readonly finished: Promise<SimulatorStats>;

  constructor(client: MqttClient, options: SimulatorOptions) {
    this.#client = client;
    this.#options = options;
    this.finished = new Promise((resolve) => (this.#resolveFinished = resolve));
  }

  stats(): SimulatorStats {
    return { ...this.#stats };
  }

  async announce(): Promise<void> {
    const now = new Date();
    await Promise.all(
      this.#options.fleet.map((gateway) =>
        this.#client.publishAsync(
          statusTopic(gateway),
          JSON.stringify(statusPayload(gateway, now)),
          {
            qos: 1,
            retain: true,
          },
        ),
      ),
    );
  }

  start(): void {
    let owed = 0;
    this.#timer = setInterval(() => {
      owed += (this.#options.messagesPerSecond * TICK_MS) / 1000;
      while (owed >= 1 && this.#canPublish()) {
        owed -= 1;
        this.#publishNext();
      }
      this.#silenceIfDue();
      this.#finishIfDone();
    }, TICK_MS);
  }

  async stop(): Promise<SimulatorStats> {
    clearInterval(this.#timer);
    await this.#client.endAsync();
    return this.stats();
  }

  #canPublish(): boolean {
    const inFlight = this.#stats.published - this.#stats.acknowledged - this.#stats.failed;
    const underCap = inFlight < (this.#options.maxInFlight ?? 1_000);
    return underCap && this.#stats.published < (this.#options.maxMessages ?? Infinity);
  }

  #publishNext(): void {
    const gateway = this.#nextGateway();
    const sequence = this.#stats.published;
    const malformed = this.#isMalformedTurn(sequence);
    const body = malformed
      ? '{"serial_number_gateway": "' + gateway.serialNumber + '", "timestamp": "not-a-time"'
      : JSON.stringify(telemetryPayload(gateway, this.#timestampFor(gateway), sequence));

    this.#stats.published += 1;
    if (malformed) this.#stats.malformed += 1;
    else this.#stats.readings += readingsPerMessage(gateway);
    this.#client.publish(telemetryTopic(gateway), body, { qos: this.#options.qos }, (error) => {
      if (error) this.#stats.failed += 1;
      else this.#stats.acknowledged += 1;
    });
  }

  #nextGateway(): SimulatedGateway {
    const active = this.#activeGateways();
    const gateway = active[this.#next % active.length]!;
    this.#next += 1;
    return gateway;
  }

  #activeGateways(): SimulatedGateway[] {
    const silent = this.#silenced ? (this.#options.silentGateways ?? 0) : 0;
    const fleet = this.#options.fleet;
    return silent > 0 && silent < fleet.length ? fleet.slice(0, fleet.length - silent) : fleet;
  }

  #isMalformedTurn(sequence: number): boolean {
    const every = this.#options.malformedEvery ?? 0;
    return every > 0 && sequence % every === every - 1;
  }

  // Readings are unique per sensor and timestamp, so a gateway never repeats a timestamp.
  #timestampFor(gateway: SimulatedGateway): Date {
    const base = this.#options.startTime?.getTime() ?? Date.now();
    const previous = this.#lastTimestamp.get(gateway.serialNumber) ?? base - 1;
    const next = Math.max(previous + 1, this.#options.startTime ? previous + 1 : Date.now());
    this.#lastTimestamp.set(gateway.serialNumber, next);
    return new Date(next);
  }

  #silenceIfDue(): void {
    const after = this.#options.silenceAfterMs;
    if (this.#silenced || after === undefined || Date.now() - this.#startedAt < after) return;

    this.#silenced = true;
    const fleet = this.#options.fleet;
    for (const gateway of fleet.slice(fleet.length - (this.#options.silentGateways ?? 0))) {
      const offline = JSON.stringify(statusPayload(gateway, new Date(), 'offline'));
      this.#client.publish(statusTopic(gateway), offline, { qos: 1, retain: true });
    }
  }

  #finishIfDone(): void {
    const max = this.#options.maxMessages;
    const settled = this.#stats.acknowledged + this.#stats.failed;
    if (max !== undefined && settled >= max) {
      clearInterval(this.#timer);
      this.#resolveFinished(this.stats());
    }
  }
}
