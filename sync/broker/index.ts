/**
 * An embedded MQTT broker (aedes) for the demo and for a headquarters laptop on
 * a bench: no Mosquitto needed. It speaks MQTT 3.1.1 only (no session expiry,
 * no CONNACK maximum packet size, no shared subscriptions), so the uplink and
 * the ingest run with `protocolVersion: 4` and without `$share` against it.
 * Production uses Mosquitto (or any MQTT 5 broker) with TLS and ACLs.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';

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
  const { Aedes } = await import('aedes');
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
