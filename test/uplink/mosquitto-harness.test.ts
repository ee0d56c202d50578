import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { retainedMessage, startMosquitto, type Mosquitto } from '../helpers/mosquitto';

let broker: Mosquitto | null = null;
afterEach(async () => { await broker?.dispose(); broker = null; });

async function retained(url: string, topic: string): Promise<string | null> {
  return (await retainedMessage(url, topic))?.toString() ?? null;
}

describe('Mosquitto test harness', () => {
  it('persists retained messages and sessions across a restart on the same port; SIGKILL is survivable', async () => {
    broker = await startMosquitto();
    const port = broker.port;
    const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    await c.publishAsync('h/t', 'kept', { qos: 1, retain: true });
    await c.endAsync();
    // a persistent session with a subscription, offline while a message arrives
    const s = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'persist-1', clean: false, properties: { sessionExpiryInterval: 600 } });
    await s.subscribeAsync('h/q', { qos: 1 });
    await s.endAsync();
    const p = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    await p.publishAsync('h/q', 'queued', { qos: 1 });
    await p.endAsync();
    await broker.restart();
    expect(broker.port).toBe(port);
    expect(existsSync(join(broker.dir, 'mosquitto.db'))).toBe(true);
    expect(await retained(broker.url, 'h/t')).toBe('kept');
    // listen before connecting: the queued message is flushed right after CONNACK
    const s2 = mqtt.connect(broker.url, { protocolVersion: 5, clientId: 'persist-1', clean: false, properties: { sessionExpiryInterval: 600 } });
    const got = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('queued message not delivered after restart')), 15_000);
      s2.on('message', (_t, m) => { clearTimeout(t); resolve(m.toString()); });
    });
    expect(got).toBe('queued');
    await s2.endAsync();
    await broker.kill9();
    expect(broker.running).toBe(false);
    await broker.start();
    expect(await retained(broker.url, 'h/t')).toBe('kept');
  });
});
