/**
 * `station selftest` (#21 item 4), the "mark good" step of an A/B update: exit 0
 * only when every part passes, and each broken part fails on its own — a device,
 * the vault, the outbox, the station key, headquarters' identity, the kiosk.
 * Also `station update check` (the updater's inhibitor) against a real session
 * marker, and the daemon's run state (version, boot id). Real compiled daemon,
 * real vault file, real Mosquitto.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { runCli, STATION_JS } from '../helpers/cli';
import { provisionedStation, type StationFixture } from '../helpers/station';
import { makeRecord } from '../uplink/helpers';
import { Vault } from '../../station/vault';
import { loadStationSigningKey, loadHqPublicIdentity } from '../../sync/wire/keys';
import { readRunState } from '../../station/run-state';

interface Selftest { ok: boolean; failed: string[]; results: { check: string; status: string; message: string; hint?: string }[] }

async function selftest(file: string): Promise<{ code: number | null; r: Selftest }> {
  const x = await runCli(['selftest', '--config', file, '--json'], { timeoutMs: 60_000 });
  return { code: x.code, r: JSON.parse(x.stdout) as Selftest };
}

describe('station selftest', () => {
  let broker: Mosquitto;
  let st: StationFixture;
  let daemon: ChildProcess | null = null;
  let daemonOut = '';

  const startDaemon = async (): Promise<void> => {
    daemonOut = '';
    daemon = spawn(process.execPath, [STATION_JS, 'run', '--config', st.file], { stdio: ['ignore', 'pipe', 'pipe'] });
    daemon.stdout!.on('data', (d: Buffer) => { daemonOut += d.toString(); });
    daemon.stderr!.on('data', (d: Buffer) => { daemonOut += d.toString(); });
    const end = Date.now() + 120_000;
    while (!readRunState(st.dataDir)?.kioskUrl) {
      if (daemon.exitCode !== null || Date.now() > end) throw new Error(`daemon did not start its kiosk: ${daemonOut.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stopDaemon = async (): Promise<void> => {
    const d = daemon;
    daemon = null;
    if (!d || d.exitCode !== null) return;
    const exited = new Promise<void>((r) => d.once('exit', () => r()));
    d.kill('SIGTERM');
    await exited;
  };

  beforeAll(async () => {
    broker = await startMosquitto();
    st = await provisionedStation({ stationId: 'ST-SELFTEST-1', brokerUrl: broker.url });
  });
  afterAll(async () => {
    await stopDaemon();
    await broker?.dispose();
    if (st) rmSync(st.dir, { recursive: true, force: true });
  });

  it('passes on a running booth and fails each broken part on its own', async () => {
    // provisioned, never started: no vault yet, nothing serves the kiosk
    const fresh = await selftest(st.file);
    expect(fresh.code).toBe(1);
    expect(fresh.r.failed.sort()).toEqual(['kiosk', 'vault']);

    await startDaemon();
    const run = readRunState(st.dataDir)!;
    expect(run.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(run.bootId).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    const good = await selftest(st.file);
    expect(good.r.failed).toEqual([]);
    expect(good.code).toBe(0);
    expect(good.r.results.map((r) => r.check)).toEqual(expect.arrayContaining(['config', 'device fingerprint', 'device camera', 'device card', 'device gpio', 'vault', 'outbox', 'station key', 'hq identity', 'kiosk']));
    const text = await runCli(['selftest', '--config', st.file]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('selftest passed');

    // the station key missing
    const keyFile = join(st.dataDir, 'keys', 'station-ed25519.key');
    renameSync(keyFile, `${keyFile}.away`);
    const noKey = await selftest(st.file);
    renameSync(`${keyFile}.away`, keyFile);
    expect(noKey.code).toBe(1);
    expect(noKey.r.failed).toEqual(['station key']);

    // headquarters' identity garbled
    const hqFile = join(st.hqDir, 'hq-public.json');
    copyFileSync(hqFile, `${hqFile}.good`);
    writeFileSync(hqFile, '{"not": "an identity"}');
    const noHq = await selftest(st.file);
    copyFileSync(`${hqFile}.good`, hqFile);
    expect(noHq.code).toBe(1);
    expect(noHq.r.failed).toEqual(['hq identity']);
    expect(noHq.r.results.find((r) => r.check === 'hq identity')!.hint).toBeTruthy();

    // the daemon stopped: only the kiosk fails (the devices are now opened by the selftest itself)
    await stopDaemon();
    const down = await selftest(st.file);
    expect(down.r.failed).toEqual(['kiosk']);

    // a record waiting in the outbox, then its ciphertext changed on disk
    const vault = await Vault.open({ dataDir: st.dataDir, stationId: 'ST-SELFTEST-1', signingKey: loadStationSigningKey(st.dataDir).privateKey, hqIdentity: loadHqPublicIdentity(hqFile) });
    await vault.seal(makeRecord('ST-SELFTEST-1', 5_000));
    await vault.close();
    const withRecord = await selftest(st.file);
    expect(withRecord.r.failed).toEqual(['kiosk']);
    expect(withRecord.r.results.find((r) => r.check === 'outbox')!.message).toMatch(/^1 record\(s\) waiting/);
    const vaultFile = join(st.dataDir, 'vault', 'vault.db');
    copyFileSync(vaultFile, `${vaultFile}.good`);
    const db = new Database(vaultFile);
    db.prepare('UPDATE envelopes SET envelope = randomblob(length(envelope))').run();
    db.close();
    const tampered = await selftest(st.file);
    expect(tampered.r.failed.sort()).toEqual(['kiosk', 'outbox']);
    expect(tampered.r.results.find((r) => r.check === 'outbox')!.message).toMatch(/bytes differ from their hash/);

    // the vault file itself damaged: a page in the middle overwritten
    copyFileSync(`${vaultFile}.good`, vaultFile);
    rmSync(`${vaultFile}-wal`, { force: true });
    rmSync(`${vaultFile}-shm`, { force: true });
    const bytes = readFileSync(vaultFile);
    const page = bytes.readUInt16BE(16) === 1 ? 65536 : bytes.readUInt16BE(16);
    expect(bytes.length).toBeGreaterThan(3 * page);
    bytes.fill(0xa5, 2 * page, 3 * page);
    writeFileSync(vaultFile, bytes);
    const broken = await selftest(st.file);
    expect(broken.code).toBe(1);
    expect(broken.r.failed.sort()).toEqual(['kiosk', 'vault']);
    copyFileSync(`${vaultFile}.good`, vaultFile);

    // a configured scanner that is not there
    const badDev = join(st.dir, 'config-scanner.yaml');
    writeFileSync(badDev, readFileSync(st.file, 'utf8').replace(/devices: .*/, 'devices: { fingerprint: { simulated: false, port: /dev/enroll-no-such-scanner }, camera: { simulated: true }, card: { simulated: true }, gpio: { simulated: true } }'));
    const noScanner = await selftest(badDev);
    expect(noScanner.r.failed.sort()).toEqual(['device fingerprint', 'kiosk']);
    expect(noScanner.r.results.find((r) => r.check === 'device fingerprint')!.message).toContain('/dev/enroll-no-such-scanner');
  }, 600_000);

  it('update check: waits while a session marker says a session is open, says why', async () => {
    const marker = join(st.dataDir, 'session.marker');
    const free = await runCli(['update', 'check', '--config', st.file, '--json']);
    expect(free.code).toBe(0);
    expect(JSON.parse(free.stdout)).toMatchObject({ ok: true });
    writeFileSync(marker, JSON.stringify({ sessionId: 's1', officerId: '1001', kind: 'enrollment', step: 'fingerprints', startedAt: Date.now() - 60_000 }));
    try {
      const busy = await runCli(['update', 'check', '--config', st.file]);
      expect(busy.code).toBe(75);
      expect(busy.stdout).toMatch(/^WAIT: an enrollment session is open \(step fingerprints, since /);
      expect(busy.stderr).toContain('update refused for now');
    } finally {
      rmSync(marker, { force: true });
    }
  });
});
