/**
 * An embedded MQTT broker (aedes) for the demo and for a headquarters laptop on
 * a bench: no Mosquitto needed. It speaks MQTT 3.1.1 only (no session expiry,
 * no CONNACK maximum packet size, no shared subscriptions), so the uplink and
 * the ingest run with `protocolVersion: 4` and without `$share` against it.
 * Production uses Mosquitto (or any MQTT 5 broker) with TLS and ACLs.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { StationError } from '../../config/errors';

export interface EmbeddedBroker {
  /** mqtt://host:port */
  url: string;
  port: number;
  host: string;
  /** MQTT protocol version clients must use with this broker. */
  protocolVersion: 4;
  stop(): Promise<void>;
}

export async function startEmbeddedBroker(opts: { port?: number; host?: string } = {}): Promise<EmbeddedBroker> {
  const host = opts.host ?? '127.0.0.1';
  let Aedes: typeof import('aedes').Aedes;
  try {
    ({ Aedes } = await import('aedes'));
  } catch (e) {
    // aedes is a development dependency: booths (`npm ci --omit=dev`) never run the demo broker
    if (!['MODULE_NOT_FOUND', 'ERR_MODULE_NOT_FOUND'].includes(String((e as NodeJS.ErrnoException).code))) throw e;
    throw new StationError('DEMO_DEV_DEPENDENCIES', 'the embedded demo broker (aedes) is not installed: this installation has no development dependencies', {
      exitCode: 2,
      hint: 'run the demo from a full install (`npm ci`, as the README says); a booth uses Mosquitto and does not need it',
    });
  }
  const aedes = await Aedes.createBroker({ drainTimeout: 30_000 });
  const server: Server = createServer((socket) => aedes.handle(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://${host}:${port}`,
    port,
    host,
    protocolVersion: 4,
    async stop(): Promise<void> {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
