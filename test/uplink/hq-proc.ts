/**
 * Headquarters side in its own process (benchmark, SIGKILL tests): either a real
 * ingest worker (`hq`) or a bare subscriber that only counts bytes (`sink`).
 * argv: <mode> <brokerUrl> <dataDir> <stationId> <stationPubPemFile|expectedMessages>
 */
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { startHq } from '../../sync/hq/ingest';
import { topics } from '../../sync/topics';

async function main(): Promise<void> {
  const [mode, brokerUrl, dataDir, stationId, extra] = process.argv.slice(2) as [string, string, string, string, string];
  if (mode === 'hq') {
    const hq = await startHq({ brokerUrl, dataDir, workerId: `bench-${process.pid}` });
    hq.store.registerStation({ stationId, publicKey: readFileSync(extra, 'utf8') });
    hq.events.once('connected', () => process.stdout.write('ready\n'));
    process.on('SIGTERM', () => { void hq.stop().then(() => process.exit(0)); });
    return;
  }
  // sink: count batch messages until `extra` have arrived, then report
  const expected = Number(extra);
  const c = await mqtt.connectAsync(brokerUrl, { protocolVersion: 5, clean: true });
  let n = 0;
  let bytes = 0;
  c.on('message', (_t, p) => {
    n++;
    bytes += p.length;
    if (n === expected) process.stdout.write(`done ${n} ${bytes}\n`);
  });
  await c.subscribeAsync(topics.shared('sink', topics.all('batch')), { qos: 1 });
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => { void c.endAsync().then(() => process.exit(0)); });
}
void main();
