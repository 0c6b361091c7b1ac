import net from 'node:net';

const SERVICES = [
  { name: 'PostgreSQL', port: 5432 },
  { name: 'Redis', port: 6379 },
  { name: 'Mosquitto', port: 1883 },
];

/** Fails the run at once, with a clear message, when a local service is not answering. */
export async function setup(): Promise<void> {
  const down: string[] = [];
  for (const service of SERVICES) {
    if (!(await answers(service.port))) down.push(`${service.name} on 127.0.0.1:${service.port}`);
  }
  if (down.length) {
    throw new Error(`tests need these services running: ${down.join(', ')} (see README)`);
  }
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(2_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
