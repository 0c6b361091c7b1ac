import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** An HTTP server standing in for Sentry's envelope endpoint; keeps every event it receives. */
export interface SentrySink {
  dsn: string;
  /** Parsed event items (exceptions) received so far. */
  events: Array<Record<string, any>>;
  close(): Promise<void>;
}

/** Starts a local envelope sink on a free port. */
export async function startSentrySink(): Promise<SentrySink> {
  const events: SentrySink['events'] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      events.push(...eventsOf(body.toString('utf8')));
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    dsn: `http://publickey@127.0.0.1:${port}/42`,
    events,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

// An envelope is newline-separated JSON: a header, then item header / item payload pairs.
function eventsOf(envelope: string): Array<Record<string, any>> {
  const lines = envelope.split('\n').filter(Boolean);
  const found: Array<Record<string, any>> = [];
  for (let index = 1; index < lines.length - 1; index += 2) {
    const header = JSON.parse(lines[index]!) as { type?: string };
    if (header.type === 'event') found.push(JSON.parse(lines[index + 1]!));
  }
  return found;
}
