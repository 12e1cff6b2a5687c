import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { PortInUseError } from './errors.ts';

/** Lowest port of the kernel's ephemeral range (Linux; the IANA default elsewhere). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > PICK_FROM + 1000) return low;
  } catch {
    // not Linux
  }
  return 49152;
}

/** Picked ports start here: above the well-known and common dev ports, below the ephemeral range. */
const PICK_FROM = 20000;
const PICK_TO = ephemeralLow();
/** Ports this process already handed out: a pick is released at once, so the OS would happily repeat it. */
const handedOut = new Set<number>();

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.on('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * A free TCP port on `host` for a service that will bind it a little later. Picked at random BELOW the kernel's
 * ephemeral range: a port from `listen(0)` lies inside that range, where any outgoing connection (a Kafka client,
 * a test's HTTP request) may take it as its local port before the service binds it — seen as EADDRINUSE when a
 * pipeline's services start one after another while other tests run.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = PICK_FROM + Math.floor(Math.random() * (PICK_TO - PICK_FROM));
    if (handedOut.has(port)) continue;
    if (await canBind(host, port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port on ${host} in ${PICK_FROM}..${PICK_TO - 1} after 100 tries`);
}

/** Throws {@link PortInUseError} naming `service` if `host:port` cannot be bound right now. */
export function assertPortFree(service: string, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(service, host, port) : error);
    });
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}
