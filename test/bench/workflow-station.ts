/**
 * The station side of the workflow bench, run in its own process from plain
 * JavaScript (no ts-node) so its RSS is what the daemon would use: kiosk
 * server + workflow + officer store + progress counters + the real vault,
 * with zero-latency device fakes. Prints {"port", "token"} when ready; on
 * "stop" on stdin prints {"rssMB", "peakRssMB", "sealed"} and exits.
 */
import { SAMPLE_CONSENT } from '../../config/consent-sample';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { nullLogger } from '../../station/log';
import { Vault } from '../../station/vault';
import { OfficerStore } from '../../station/officers/store';
import { ProgressCounters } from '../../station/progress';
import { createWorkflow } from '../../station/workflow/machine';
import { stationGuard, vaultSealer, vaultUplinkStatus } from '../../station/workflow/adapters';
import { FakeCamera, FakeDevices, FakeFingerprint } from '../../station/workflow/fakes';
import { startKiosk } from '../../station/kiosk/server';
import { loadStationSigningKey } from '../../sync/wire';

function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 1048576;
}

async function main(): Promise<void> {
  const [dataDir, hqPublic] = process.argv.slice(2) as [string, string];
  const vault = await Vault.open({ dataDir, stationId: 'ST-BENCH', signingKey: loadStationSigningKey(dataDir), hqIdentity: hqPublic, logger: nullLogger(), reserveBytes: 64 * 1024 * 1024 });
  const officers = new OfficerStore(join(dataDir, 'officers.db')).open();
  if (!officers.get('off1')) await officers.add({ id: 'off1', name: 'Bench Officer', pin: '123456' });
  const progress = new ProgressCounters(join(dataDir, 'progress.db')).open();
  const wf = createWorkflow({
    consent: SAMPLE_CONSENT, officers, progress, fingerprint: new FakeFingerprint(), camera: new FakeCamera(), sealer: vaultSealer(vault),
    guard: stationGuard({ locked: () => null, policy: () => ({ maxUnacked: 1_000_000, maxDaysSinceReceipt: 30 }), vault }),
    uplink: vaultUplinkStatus(vault), devices: new FakeDevices(),
    positions: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], defaultUnit: '00004', idleLogoutMs: 3_600_000, markerFile: join(dataDir, 'session.marker'), logger: nullLogger(),
  });
  await wf.start();
  const kiosk = await startKiosk({ port: 0, workflow: wf, logger: nullLogger() });
  const { token } = await wf.login('off1', '123456');
  process.stdout.write(`${JSON.stringify({ port: kiosk.port, token })}\n`);
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line.trim() !== 'stop') continue;
    const rssMB = process.memoryUsage().rss / 1048576;
    const sealed = vault.stats().sealed;
    await kiosk.stop();
    wf.stop();
    vault.close();
    officers.close();
    progress.close();
    process.stdout.write(`${JSON.stringify({ rssMB, peakRssMB: peakRssMb(), sealed })}\n`);
    break;
  }
  rl.close();
}
main().catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exit(1); });
