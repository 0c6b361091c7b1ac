import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Options of a private Mosquitto. */
export interface PrivateBrokerOptions {
  /** user name -> password; when set, anonymous clients are refused. */
  users?: Record<string, string>;
  /** Keep sessions and queued messages across restarts. */
  persistence?: boolean;
  /** Serve TLS with a certificate signed by a CA of its own (see `caCert`). */
  tls?: boolean;
  /**
   * Messages queued per session for an absent or slow client. Mosquitto's default (1000)
   * drops even QoS 1 messages beyond it, so tests that keep a client away for a while raise it.
   */
  maxQueuedMessages?: number;
}

/** A Mosquitto of a test's own, on a free port, with its files in a temp folder. */
export interface PrivateBroker {
  port: number;
  /** The CA certificate (PEM) that signed the broker's certificate, when TLS is on. */
  caCert?: string;
  /** Starts the broker again on the same port after `stop`. */
  start(): Promise<void>;
  /** Stops the broker (SIGTERM; a persistent broker saves its sessions first). */
  stop(): Promise<void>;
  /** Stops the broker and deletes its folder. */
  destroy(): Promise<void>;
}

/** Starts a private Mosquitto; never touches the shared one on 1883. */
export async function startPrivateBroker(
  options: PrivateBrokerOptions = {},
): Promise<PrivateBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'sitewire-broker-'));
  const port = await freePort();
  const caCert = options.tls ? makeCertificates(dir) : undefined;
  const configFile = join(dir, 'mosquitto.conf');
  writeFileSync(configFile, configText(dir, port, options));

  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('mosquitto', ['-c', configFile], { stdio: 'ignore' });
    await waitForPort(port, true);
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;

    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  };

  await start();
  return {
    port,
    ...(caCert ? { caCert } : {}),
    start,
    stop,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function configText(dir: string, port: number, options: PrivateBrokerOptions): string {
  const lines = ['user root', `listener ${port} 127.0.0.1`, 'log_dest none'];
  if (options.users) {
    const passwordFile = join(dir, 'passwords');
    writeFileSync(passwordFile, '');
    for (const [user, password] of Object.entries(options.users)) {
      execFileSync('mosquitto_passwd', ['-b', passwordFile, user, password]);
    }
    lines.push('allow_anonymous false', `password_file ${passwordFile}`);
  } else {
    lines.push('allow_anonymous true');
  }
  if (options.persistence) {
    lines.push('persistence true', `persistence_location ${dir}/`);
  }
  if (options.maxQueuedMessages !== undefined) {
    lines.push(`max_queued_messages ${options.maxQueuedMessages}`);
  }
  if (options.tls) {
    lines.push(`cafile ${join(dir, 'ca.crt')}`);
    lines.push(`certfile ${join(dir, 'server.crt')}`, `keyfile ${join(dir, 'server.key')}`);
  }
  return `${lines.join('\n')}\n`;
}

function makeCertificates(dir: string): string {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const subject = (name: string) => ['-subj', `/CN=${name}`];

  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    ...subject('sitewire test CA'),
  );
  run(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    ...subject('127.0.0.1'),
  );
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '1',
    '-extfile',
    'san.ext',
  );
  return readFileSync(join(dir, 'ca.crt'), 'utf8');
}

async function waitForPort(port: number, open: boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if ((await answers(port)) === open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`broker on port ${port} did not ${open ? 'open' : 'close'} in time`);
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
