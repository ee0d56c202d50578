/**
 * Campaign counts come from what headquarters stored (#20 item 3), end to end: two booths with
 * their real vaults and uplinks, a real Mosquitto, the real ingest, and the record validator
 * behind its Unix socket (as `hq validator` serves it) telling the ingest each record's kind and
 * completion time. Records count under the unit their booth had when they were stored (a booth
 * moved later takes nothing with it), on the campaign day of their completion in the campaign's
 * time zone — by headquarters' time when the booth's clock was off and it knew by how much.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { startMosquitto } from '../helpers/mosquitto';
import { makeFixture, makeRecord, waitFor } from '../uplink/helpers';
import { Uplink } from '../../sync/uplink';
import { startHq } from '../../sync/hq/ingest';
import { LocalValidator } from '../../sync/hq/validate';
import { SocketValidator, startValidatorService } from '../../sync/hq/validator-service';
import { loadRecordKeys } from '../../sync/wire';
import { generateStationKeyPair } from '../../sync/wire/keys';
import { Vault } from '../../station/vault';
import type { EnrollmentRecord, RecordKind } from '../../sync/wire/record';
import { campaignDayBounds, campaignSummary, dayOf, nextDay } from '../../sync/hq/campaign';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try { await c(); } catch { /* best effort */ }
  }
});

const TZ = 'Asia/Ho_Chi_Minh';
const DAY = 24 * 3600_000;

describe('campaign figures from records stored through the real ingest', () => {
  it('counts by the unit at storage, the kind and the completion day the validator read from inside each record', async () => {
    const t0 = Date.now();
    const today = dayOf(t0, TZ);
    const yesterday = dayOf(t0 - DAY, TZ);
    const broker = await startMosquitto();
    cleanups.push(() => broker.dispose());
    const f = await makeFixture('st-camp-a');
    cleanups.push(() => f.cleanup());
    // the record keys live with the validator, which answers over its socket
    const socketPath = join(f.root, 'validator.sock');
    const service = await startValidatorService({ socketPath, validator: new LocalValidator({ loadKeys: () => loadRecordKeys(join(f.hqDir, 'keys')) }), logger: pino({ level: 'silent' }) });
    cleanups.push(() => service.close());
    const ingest = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'w1', validator: new SocketValidator({ socketPath }) });
    cleanups.push(() => ingest.stop());
    await waitFor(() => ingest.connected(), 20_000, 'hq connected');
    const api = ingest.api;

    const b = { stationId: 'st-camp-b', dir: join(f.root, 'station-b'), pair: generateStationKeyPair() };
    mkdirSync(b.dir, { recursive: true });
    await api.registerStation({ stationId: f.stationId, unit: 'W-A', publicKey: f.stationPubPem });
    await api.registerStation({ stationId: b.stationId, unit: 'W-B', publicKey: b.pair.publicKeyPem });
    const first = dayOf(t0 - 3 * DAY, TZ);
    const last = nextDay(nextDay(today));
    expect((await api.createCampaign({ id: 'c1', name: 'Chiến dịch', first_day: first, last_day: last, time_zone: TZ }, campaignDayBounds(first, last, TZ))).ok).toBe(true);
    await api.importUnits([
      { code: 'C', name: 'Thành phố', parent: null, level: 'city' },
      { code: 'D', name: 'Quận Hải Châu', parent: 'C', level: 'district' },
      { code: 'W-A', name: 'Phường Hòa Phát', parent: 'D', level: 'ward' },
      { code: 'W-B', name: 'Phường Hòa Xuân', parent: 'D', level: 'ward' },
    ], { campaignId: 'c1', rows: [{ unit: 'W-A', enrollments: 10, activations: 4 }, { unit: 'W-B', enrollments: 10, activations: null }] });

    const vaultA = await Vault.open({ dataDir: f.stationDir, stationId: f.stationId, signingKey: createPrivateKey(f.stationKeyPem), hqIdentity: f.hqPublic });
    cleanups.push(() => vaultA.close());
    const vaultB = await Vault.open({ dataDir: b.dir, stationId: b.stationId, signingKey: createPrivateKey(b.pair.privateKeyPem), hqIdentity: f.hqPublic });
    cleanups.push(() => vaultB.close());
    const make = (stationId: string, kind: RecordKind, completedAt: number, extra: Partial<EnrollmentRecord> = {}): EnrollmentRecord =>
      ({ ...makeRecord(stationId, 500), kind, startedAt: completedAt - 60_000, completedAt, ...extra });

    const sealedA = [
      await vaultA.seal(make(f.stationId, 'enrollment', t0)),
      await vaultA.seal(make(f.stationId, 'enrollment', t0)),
      await vaultA.seal(make(f.stationId, 'eid-activation', t0 - DAY)),
      // the booth's clock two days behind, and it knew: counted today by headquarters' time
      await vaultA.seal(make(f.stationId, 'enrollment', t0 - 2 * DAY, { clock: { source: 'hq', offsetMs: 2 * DAY, uncertaintyMs: 500 } })),
    ];
    const sealedB = [await vaultB.seal(make(b.stationId, 'enrollment', t0))];

    const stored = new Set<string>();
    ingest.events.on('record', (e: { recordId: string; status: string }) => { if (e.status === 'stored') stored.add(e.recordId); });
    const uplinks = [[f.stationId, vaultA, f.stationKeyPem, f.stationDir], [b.stationId, vaultB, b.pair.privateKeyPem, b.dir]] as const;
    for (const [stationId, outbox, key, dir] of uplinks) {
      const up = new Uplink({ brokerUrl: broker.url, stationId, outbox, signingKey: createPrivateKey(key), hqIdentity: f.hqPublic, dataDir: dir, receiptTimeoutMs: 1_500, reconnectBaseMs: 200, reconnectMaxMs: 1_500, idlePollMs: 250 });
      cleanups.push(() => up.stop(2_000));
      await up.start();
    }
    await waitFor(() => [...sealedA, ...sealedB].every((r) => stored.has(r.recordId)), 60_000, 'records stored');

    // booth A moves to ward B; its next record counts there, the earlier ones stay in ward A
    await api.registerStation({ stationId: f.stationId, unit: 'W-B', publicKey: f.stationPubPem });
    const moved = await vaultA.seal(make(f.stationId, 'eid-activation', t0));
    await waitFor(() => stored.has(moved.recordId), 60_000, 'record after the move stored');

    const s = await campaignSummary(api, 'c1', { level: 'ward', day: today, now: t0 });
    const ward = (code: string) => s.units.find((u) => u.code === code)!;
    expect(ward('W-A').today).toEqual({ enrollments: 3, activations: 0, unknown: 0 });
    expect(ward('W-A').total).toEqual({ enrollments: 3, activations: 1, unknown: 0 });
    expect(ward('W-A').series.find((d) => d.day === yesterday)).toMatchObject({ enrollments: 0, activations: 1, cumActivations: 1 });
    expect(ward('W-A').pct).toEqual({ enrollments: 30, activations: 25 });
    expect(ward('W-B').today).toEqual({ enrollments: 1, activations: 1, unknown: 0 });
    expect(ward('W-B').pct).toEqual({ enrollments: 10, activations: null });
    const d = await campaignSummary(api, 'c1', { level: 'district', day: today, now: t0 });
    expect(d.units).toHaveLength(1);
    expect(d.units[0]).toMatchObject({ code: 'D', total: { enrollments: 4, activations: 2, unknown: 0 }, quota: { enrollments: 20, activations: 4 }, pct: { enrollments: 20, activations: 50 } });
    expect(d.total).toEqual({ enrollments: 4, activations: 2, unknown: 0 });
    expect(d.unplaced).toEqual([]);
  });
});
