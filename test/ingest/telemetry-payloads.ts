/** A one-sensor telemetry message of a gateway at a time, with a chosen value. */
export function temperatureMessage(gateway: string, timestamp: string, value: unknown): string {
  return JSON.stringify({
    serial_number_gateway: gateway,
    timestamp,
    dataloggers: [
      {
        serial_number_datalogger: `DL-${gateway}`,
        status_datalogger: 'ok',
        devices: [
          { type: 'T', serial_number_device: `DEV-${gateway}`, data: [{ type: 'temp', value }] },
        ],
      },
    ],
  });
}

/** The telemetry topic of a gateway, below a harness prefix. */
export function telemetryTopic(gateway: string): string {
  return `gateway/${gateway}/dataloggers/telemetry`;
}

/** The n-th second of a fixed day, as ISO 8601. */
export function nthSecond(n: number): string {
  return new Date(Date.UTC(2026, 11, 3, 8, 0, 0) + n * 1_000).toISOString();
}
