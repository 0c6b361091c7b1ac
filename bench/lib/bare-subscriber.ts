import mqtt from 'mqtt';

/**
 * The broker-side limit: an mqtt.js client that only counts QoS 1 messages (the library
 * acknowledges each one). Run as its own process, like the engine, by the limits phase:
 * `node --import tsx bench/lib/bare-subscriber.ts <broker url> <expected> <timeout ms>`.
 * Prints one JSON line: {received, seconds}.
 */
async function countMessages(url: string, expected: number, timeoutMs: number): Promise<void> {
  const client = await mqtt.connectAsync(url, {
    clientId: `bench-bare-${process.pid}`,
    clean: true,
  });
  await client.subscribeAsync('+/gateway/+/dataloggers/telemetry', { qos: 1 });
  process.stdout.write('ready\n');

  let received = 0;
  let first = 0;
  let last = 0;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    client.on('message', () => {
      last = performance.now();
      if (received === 0) first = last;
      received += 1;
      if (received >= expected) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await client.endAsync();
  process.stdout.write(`${JSON.stringify({ received, seconds: (last - first) / 1_000 })}\n`);
}

const [url, expected, timeout] = process.argv.slice(2);
await countMessages(url!, Number(expected), Number(timeout));
