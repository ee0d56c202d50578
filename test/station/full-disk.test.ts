/**
 * A full data disk does not stop the booth (#16 item 5): the real composition root
 * (all devices simulated) with its data directory on a small tmpfs of its own,
 * a real Mosquitto and headquarters' real ingest. Started on a disk with not one
 * block free, the station comes up (kiosk serving, new enrollments refused with the
 * reason), uploads its backlog until headquarters has it and it is released, and
 * once space returns it takes enrollments again by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../config';
import { buildStation, type StationHandle } from '../../station/app';
import { nullLogger } from '../../station/log';
import { SPACE_RESERVE_BYTES } from '../../station/space-reserve';
import { startHq, type HqHandle } from '../../sync/hq/ingest';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { provisionedStation, type StationFixture } from '../helpers/station';
import { mountSmallDisk, type SmallDisk } from '../helpers/tmpfs';
import { makeRecord } from '../uplink/helpers';

const ID = 'ST-FULL-1';
const MB = 1024 * 1024;

describe('a full data disk', () => {
  let broker: Mosquitto;
  let disk: SmallDisk;
  let fx: StationFixture;
  let configFile: string;
  let dataDir: string;
  let hqDir: string;
  let hq: HqHandle | undefined;
  let station: StationHandle | undefined;

  const start = async (): Promise<StationHandle> => {
    const s = buildStation(loadConfig(configFile, { env: {} }).config, nullLogger(), {
      spaceCheckMs: 100,
      uplink: { reconnectBaseMs: 200, reconnectMaxMs: 1000, receiptTimeoutMs: 2000 },
    });
    await s.lifecycle.start();
    return s;
  };

  beforeAll(async () => {
    broker = await startMosquitto();
    // 80 MB: the enrollment reserve (20 MB) plus the space reserve (16 MB) twice over fit, with room for records.
    disk = mountSmallDisk(80 * MB, 'full-disk-');
    fx = await provisionedStation({ stationId: ID, brokerUrl: broker.url, extra: ['vault: { reserveMb: 20 }'] });
    dataDir = join(disk.dir, 'data');
    cpSync(fx.dataDir, dataDir, { recursive: true });
    configFile = join(fx.dir, 'config-small-disk.yaml');
    writeFileSync(configFile, readFileSync(fx.file, 'utf8').replace(`dataDir: ${fx.dataDir}`, `dataDir: ${dataDir}`));
    hqDir = mkdtempSync(join(tmpdir(), 'full-disk-hq-'));
    cpSync(fx.hqDir, join(hqDir, 'keys'), { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await station?.lifecycle.stop();
    await hq?.stop();
    await broker?.dispose();
    disk?.dispose();
    if (fx) rmSync(fx.dir, { recursive: true, force: true });
    if (hqDir) rmSync(hqDir, { recursive: true, force: true });
  });

  it('starts and serves, refuses enrollments with the reason, drains its backlog, and recovers when space returns', async () => {
    // A first life with room: the station writes its space reserve and seals a backlog (headquarters is not up).
    station = await start();
    expect(station.parts.spaceReserve!.state).toBe('held');
    const backlog: string[] = [];
    for (let i = 0; i < 4; i++) backlog.push((await station.parts.vault!.seal(makeRecord(ID, 200_000))).recordId);
    await station.lifecycle.stop();
    station = undefined;

    // Not one block left.
    disk.fill(0);
    expect(disk.free()).toBeLessThan(64 * 1024);

    station = await start();
    const parts = station.parts;
    // The reserve went back to the disk, so SQLite and the small state files have room to work.
    expect(parts.spaceReserve!.state).toBe('released');
    // The kiosk serves and says why no enrollment can start.
    const page = await fetch(station.kioskUrl());
    expect(page.status).toBe(200);
    const verdict = await parts.workflow!.refreshGuard();
    expect(verdict).toMatchObject({ ok: false, code: 'disk_low' });
    expect(verdict.ok ? '' : verdict.message).toMatch(/MB free on .*the reserve is 20 MB/);
    await expect(parts.vault!.seal(makeRecord(ID, 1000))).rejects.toMatchObject({ code: 'VAULT_DISK_LOW' });

    // Headquarters comes up: the backlog uploads, is acknowledged and released, on the full disk.
    hq = await startHq({ brokerUrl: broker.url, dataDir: hqDir, workerId: 'w' });
    const pub = readFileSync(join(dataDir, 'keys', 'station-ed25519.pub'), 'utf8');
    hq.store.registerStation({ stationId: ID, unit: '00007', publicKey: pub });
    await expect.poll(() => backlog.map((id) => parts.vault!.recordState(id)?.state), { timeout: 60_000, interval: 100 }).toEqual(backlog.map(() => 'released'));
    expect(disk.free()).toBeLessThan(SPACE_RESERVE_BYTES + 20 * MB); // still below the enrollment reserve

    // Space returns: the station writes its reserve again and takes enrollments, nobody restarted it.
    disk.unfill();
    await expect.poll(() => parts.spaceReserve!.state, { timeout: 30_000, interval: 50 }).toBe('held');
    expect(await parts.workflow!.refreshGuard()).toEqual({ ok: true });
    const after = await parts.vault!.seal(makeRecord(ID, 1000));
    expect(parts.vault!.recordState(after.recordId)?.state).toMatch(/sealed|in_flight|acknowledged|released/);
    expect(parts.vault!.audit.verify()).toMatchObject({ ok: true });
  }, 180_000);
});
