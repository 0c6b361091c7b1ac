/**
 * A deterministic fleet of simulated gateways for the demo and the benchmark: the same seed
 * gives the same gateways, dataloggers, devices and sensors, and the same readings.
 */

/** The sensor kinds the simulator emits, one per value shape of the normalisation rules. */
export const SENSOR_KINDS = [
  'accelerometer',
  'inclinometer',
  'temperature',
  'humidity',
  'displacement',
  'strain',
  'piezometer',
] as const;

/** One of SENSOR_KINDS. */
export type SensorKind = (typeof SENSOR_KINDS)[number];

/** A simulated device and the sensor kinds it reports. */
export interface SimulatedDevice {
  serialNumber: string;
  type: string;
  sensors: SensorKind[];
}

/** A simulated datalogger and its devices. */
export interface SimulatedDatalogger {
  serialNumber: string;
  devices: SimulatedDevice[];
}

/** A simulated gateway, publishing on `<siteCode>/gateway/<serial>/...`. */
export interface SimulatedGateway {
  siteCode: string;
  serialNumber: string;
  dataloggers: SimulatedDatalogger[];
  intervalSeconds: number;
}

/** Options of createFleet. */
export interface FleetOptions {
  seed: number;
  /** Topic prefixes of the sites, e.g. ['site_001']. */
  siteCodes: string[];
  gatewaysPerSite: number;
  /** Makes serial numbers unique across runs sharing one database; default ''. */
  serialPrefix?: string;
}

/** A small, fast, seedable PRNG (mulberry32): deterministic across runs and machines. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds the fleet: 1-3 dataloggers per gateway, 1-4 devices each, 2-5 sensors per device. */
export function createFleet(options: FleetOptions): SimulatedGateway[] {
  const random = createRandom(options.seed);
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const prefix = options.serialPrefix ?? '';

  const gateways: SimulatedGateway[] = [];
  for (const siteCode of options.siteCodes) {
    for (let index = 0; index < options.gatewaysPerSite; index += 1) {
      const serial = `${prefix}GW-${siteCode}-${String(index + 1).padStart(4, '0')}`;
      const dataloggers = Array.from({ length: between(1, 3) }, (_unused, dl) => {
        const dlSerial = `${serial}-DL${dl + 1}`;
        const devices = Array.from({ length: between(1, 4) }, (_unused2, dev) => ({
          serialNumber: `${dlSerial}-DEV${dev + 1}`,
          type: ['TLT-01', 'ACC-3X', 'ENV-02', 'PZM-10'][between(0, 3)]!,
          sensors: pickSensors(random, between(2, 5)),
        }));
        return { serialNumber: dlSerial, devices };
      });
      gateways.push({ siteCode, serialNumber: serial, dataloggers, intervalSeconds: 60 });
    }
  }
  return gateways;
}

/** The number of readings one telemetry message of this gateway carries. */
export function readingsPerMessage(gateway: SimulatedGateway): number {
  return gateway.dataloggers
    .flatMap((datalogger) => datalogger.devices)
    .reduce((sum, device) => sum + device.sensors.length, 0);
}

function pickSensors(random: () => number, count: number): SensorKind[] {
  const pool = [...SENSOR_KINDS];
  const picked: SensorKind[] = [];
  while (picked.length < count && pool.length) {
    picked.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  }
  return picked;
}
