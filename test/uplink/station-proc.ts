/**
 * A station uplink in its own process, for the SIGKILL scenario.
 * argv: <config.json> with { brokerUrl, stationId, stationDir, stationKeyPem, hqPublicPath }
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { Uplink } from '../../sync/uplink';
import { loadHqPublicIdentity } from '../../sync/wire';
import { Vault } from '../../station/vault';

const cfg = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { brokerUrl: string; stationId: string; stationDir: string; stationKeyPem: string; hqPublicPath: string; maxBatchRecords?: number; receiptTimeoutMs?: number; reportRss?: boolean; releaseOnAck?: boolean };
async function main(): Promise<void> {
const ob = await Vault.open({ dataDir: cfg.stationDir, stationId: cfg.stationId, signingKey: createPrivateKey(cfg.stationKeyPem), hqIdentity: cfg.hqPublicPath, retention: { releaseOnAck: cfg.releaseOnAck ?? true } });
const up = new Uplink({
  brokerUrl: cfg.brokerUrl, stationId: cfg.stationId, outbox: ob, signingKey: createPrivateKey(cfg.stationKeyPem),
  hqIdentity: loadHqPublicIdentity(cfg.hqPublicPath), dataDir: cfg.stationDir, maxBatchRecords: cfg.maxBatchRecords ?? 10,
  receiptTimeoutMs: cfg.receiptTimeoutMs ?? 1_500, receiptTimeoutMaxMs: 4_000, reconnectBaseMs: 200, reconnectMaxMs: 1_500,
});
up.on('sent', (e: { batchId: string }) => process.stdout.write(`sent ${e.batchId}\n`));
up.on('acknowledged', (e: { batchId: string; results: unknown[] }) => process.stdout.write(`acked ${e.batchId}\nacked-records ${e.results.length}\n`));
if (cfg.reportRss) {
  process.stdout.write(`rss ${process.memoryUsage().rss}\n`);
  setInterval(() => process.stdout.write(`rss ${process.memoryUsage().rss}\n`), 50).unref();
}
void up.start().then(() => process.stdout.write('started\n'));
process.on('SIGTERM', () => { void up.stop().then(() => { ob.close(); process.exit(0); }); });
}
void main();
