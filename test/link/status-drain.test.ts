/**
 * `station status` and `station status --watch` while the uplink drains a
 * backlog over a slow link (#21 item 1): the backlog, its oldest age, the last
 * contact and a time to drain at the rate actually observed, and a progress bar
 * that ends at 100 % when the backlog is gone. The compiled CLI reads the
 * vault and the uplink's status file as it does next to a running daemon.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { startLink, type LinkEmulator } from '../helpers/link';
import { runCli } from '../helpers/cli';
import { makeFixture, openOutbox, waitFor, type Fixture } from '../uplink/helpers';
import { Uplink } from '../../sync/uplink';
import { startHq, type HqHandle } from '../../sync/hq/ingest';

const LINK_BPS = 1_000_000;

describe('station status over a draining backlog', () => {
  let broker: Mosquitto;
  let f: Fixture;
  let link: LinkEmulator;
  let hq: HqHandle;
  let config: string;
  beforeAll(async () => {
    broker = await startMosquitto();
    f = await makeFixture('ST-STATUS-1');
    hq = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'w1' });
    const prov = JSON.parse(readFileSync(f.provisionFile, 'utf8')) as { stationId: string; unit: string; publicKey: string };
    hq.store.registerStation({ stationId: prov.stationId, unit: prov.unit, publicKey: prov.publicKey });
    await waitFor(() => hq.connected(), 15_000, 'hq connected');
    link = await startLink({ target: { port: broker.port }, upBitsPerSec: LINK_BPS, rttMs: 200 });
    config = join(f.root, 'config.yaml');
    writeFileSync(config, `version: 1\nstation: { id: ${f.stationId}, unit: { code: "00004" } }\ndataDir: ${f.stationDir}\nheadquarters:\n  publicKeyFile: ${join(f.hqDir, 'keys', 'hq-public.json')}\n`);
  });
  afterAll(async () => {
    await link?.stop();
    await hq?.stop();
    await broker?.dispose();
    f?.cleanup();
  });

  it('shows backlog, last contact and ETA, and --watch draws a bar to 100 %', async () => {
    const ob = await openOutbox(f);
    await ob.sealN(8, 150_000);
    const backlogBytes = ob.stats().backlogBytes!;
    expect(backlogBytes).toBeGreaterThan(8 * 150_000);

    // nothing running yet: backlog known, time to drain unknown and said so
    const before = await runCli(['status', '--config', config]);
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/backlog: +8 records, 1\.\d MB/);
    expect(before.stdout).toContain('no uplink status');
    expect(before.stdout).toContain('time to drain:      unknown (not connected)');
    expect(before.stdout).toContain('last contact:       never');

    const up = new Uplink({
      brokerUrl: link.url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem),
      hqIdentity: f.hqPublic, dataDir: f.stationDir, receiptTimeoutMs: 60_000,
    });
    // headquarters' signed receipt times, each bounded by when the batch left and when the receipt came
    const hqTimes: { at: number; sentMono: number; receivedMono: number; wallLow: number; wallHigh: number }[] = [];
    const t0Wall = Date.now() - performance.now();
    up.on('hq-time', (x: { at: number; sentMono: number; receivedMono: number }) => hqTimes.push({ ...x, wallLow: t0Wall + x.sentMono, wallHigh: t0Wall + x.receivedMono }));
    // 8 × 150 KB at 125 KB/s is about 10 s of link time: both watchers see most of the drain
    const watchJson = runCli(['status', '--config', config, '--watch', '--json', '--interval', '100'], { timeoutMs: 300_000 });
    const watchText = runCli(['status', '--config', config, '--watch', '--interval', '250'], { timeoutMs: 300_000 });
    await up.start();
    const [j, t] = await Promise.all([watchJson, watchText]);
    expect(j.code).toBe(0);
    expect(t.code).toBe(0);
    expect(ob.acked()).toBe(8);

    const lines = j.stdout.trim().split('\n').map((l) => JSON.parse(l) as { backlogBytes: number; backlogRecords: number; etaSeconds: number | null; rateBps: number | null; connected: boolean; peakBytes: number });
    // (a watcher may start a moment after the uplink: its first reading is its 0 %)
    expect(lines[0]!.backlogBytes).toBeGreaterThan(0);
    expect(lines[0]!.backlogBytes).toBeLessThanOrEqual(backlogBytes);
    expect(lines[lines.length - 1]!.backlogBytes).toBe(0);
    // the backlog only goes down, and while draining an ETA at a rate the link can carry was shown
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.backlogBytes).toBeLessThanOrEqual(lines[i - 1]!.backlogBytes);
    const withEta = lines.filter((l) => l.backlogBytes > 0 && l.etaSeconds !== null);
    expect(withEta.length).toBeGreaterThan(0);
    for (const l of withEta) {
      expect(l.connected).toBe(true);
      expect(l.rateBps!).toBeGreaterThan(0);
      expect(l.rateBps!).toBeLessThanOrEqual((LINK_BPS / 8) * 1.15);
      expect(l.etaSeconds!).toBe(Math.ceil(l.backlogBytes / l.rateBps!));
    }

    expect(hqTimes.length).toBeGreaterThan(0);
    for (const h of hqTimes) {
      // headquarters runs on this machine's clock: its signed time must fall inside the window (1 ms rounding)
      expect(h.at).toBeGreaterThanOrEqual(Math.floor(h.wallLow) - 1);
      expect(h.at).toBeLessThanOrEqual(Math.ceil(h.wallHigh) + 1);
    }
    const bars = t.stdout.trim().split('\n');
    expect(bars[0]).toMatch(/^\[-{30}\] +0 % +\d records/);
    expect(bars[bars.length - 1]).toMatch(/^\[#{30}\] 100 % +0 records, 0 KB left +drained/);
    expect(bars.some((b) => /ETA \d/.test(b))).toBe(true);

    // afterwards: nothing left, contact is recent, the link is still up
    const after = await runCli(['status', '--config', config, '--json']);
    const s = JSON.parse(after.stdout) as { drain: { backlogBytes: number; etaSeconds: number; lastContactAt: number | null; connected: boolean }; uplink: { running: boolean } };
    expect(s.drain.backlogBytes).toBe(0);
    expect(s.drain.etaSeconds).toBe(0);
    expect(s.drain.connected).toBe(true);
    expect(s.uplink.running).toBe(true);
    expect(s.drain.lastContactAt).not.toBeNull();

    await up.stop();
    const stopped = await runCli(['status', '--config', config]);
    expect(stopped.stdout).toContain('uplink:             not connected');
    expect(stopped.stdout).toContain('time to drain:      nothing to send');
    ob.close();
  }, 600_000);
});
