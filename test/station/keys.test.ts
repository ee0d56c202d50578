/**
 * One holder of the station key: after `rotate-key` the vault (records, audit
 * heads) and the uplink (command results) sign with the new key at once. Runs the
 * real composition root (all devices simulated) against a real Mosquitto, with
 * commands signed by headquarters' ops key as `hq cmd` does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { loadConfig } from '../../config';
import { buildStation, type StationHandle } from '../../station/app';
import { StationKeyHolder } from '../../station/keys';
import { nullLogger } from '../../station/log';
import { signCommand } from '../../sync/commands';
import { makeTopics, type CommandResultBody, type EventPayload } from '../../sync/topics';
import { encodeSigned, TrustedKeys, verifySigned } from '../../sync/wire/signed';
import { auditHeadMessage } from '../../sync/wire/audit';
import { checkSignature, digestEnvelope } from '../../sync/wire/envelope';
import { loadHqPrivateKeys, loadStationSigningKey } from '../../sync/wire/keys';
import { verify } from 'node:crypto';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { provisionedStation, type StationFixture } from '../helpers/station';
import { makeRecord } from '../uplink/helpers';

const ID = 'ST-KEYS-1';

describe('the station key holder', () => {
  let broker: Mosquitto;
  let fx: StationFixture;
  let station: StationHandle;
  let hqClient: mqtt.MqttClient;
  const results: Buffer[] = [];
  const events: EventPayload[] = [];
  const t = makeTopics();

  beforeAll(async () => {
    broker = await startMosquitto();
    fx = await provisionedStation({ stationId: ID, brokerUrl: broker.url });
    hqClient = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    let online!: () => void;
    const isOnline = new Promise<void>((r) => { online = r; });
    hqClient.on('message', (topic, p) => {
      if (topic === t.status(ID)) { if (/"state":"online"/.test(p.toString())) online(); } else if (topic === t.events(ID)) events.push(JSON.parse(p.toString()) as EventPayload); else results.push(p);
    });
    await hqClient.subscribeAsync([t.cmdRes(ID), t.status(ID), t.events(ID)], { qos: 1 });
    station = buildStation(loadConfig(fx.file, { env: {} }).config, nullLogger(), { uplink: { reconnectBaseMs: 200, reconnectMaxMs: 1000 } });
    await station.lifecycle.start();
    await isOnline; // the station subscribed to its commands before it announced itself online
  });
  afterAll(async () => {
    await hqClient?.endAsync();
    await station?.lifecycle.stop();
    await broker?.dispose();
    if (fx) rmSync(fx.dir, { recursive: true, force: true });
  });

  async function command(name: 'rotate-key' | 'request-health' | 'lock' | 'unlock' | 'officer-push', args?: Record<string, unknown>): Promise<{ payload: Buffer; body: CommandResultBody }> {
    const ops = loadHqPrivateKeys(fx.hqDir).opsKey;
    const { body, message } = signCommand({ target: ID, name, ...(args ? { args } : {}) }, ops);
    await hqClient.publishAsync(t.cmd(ID, name), encodeSigned(message), { qos: 1 });
    let found: { payload: Buffer; body: CommandResultBody } | undefined;
    await expect.poll(() => {
      for (const p of results) {
        const b = JSON.parse(JSON.parse(p.toString()).body as string) as CommandResultBody;
        if (b.id === body.id) found = { payload: p, body: b };
      }
      return found !== undefined;
    }, { timeout: 30_000 }).toBe(true);
    return found!;
  }

  const signedBy = (payload: Buffer, key: KeyObject): boolean => verifySigned(payload, new TrustedKeys([key])).ok;

  it('rotate-key switches the vault and the uplink together; the answer itself is vouched for by the old key', async () => {
    const vault = station.parts.vault!;
    const oldKey = loadStationSigningKey(fx.dataDir);
    const before = await vault.seal(makeRecord(ID, 100));

    const rot = await command('rotate-key');
    expect(rot.body.status).toBe('ok');
    // the key on disk is the new one, and it is what the answer announces
    const newPub = createPublicKey(readFileSync(join(fx.dataDir, 'keys', 'station-ed25519.pub'), 'utf8'));
    expect(rot.body.data?.publicKeyPem).toBe(newPub.export({ format: 'pem', type: 'spki' }).toString());
    expect(newPub.equals(oldKey.publicKey)).toBe(false);
    // headquarters still holds only the old key: the answer is signed with it, not with the new one
    expect(signedBy(rot.payload, oldKey.publicKey)).toBe(true);
    expect(signedBy(rot.payload, newPub)).toBe(false);

    // the uplink: the next command result is signed with the new key
    const health = await command('request-health');
    expect(health.body.status).toBe('ok');
    expect(signedBy(health.payload, newPub)).toBe(true);
    expect(signedBy(health.payload, oldKey.publicKey)).toBe(false);

    // the vault: a record sealed now carries the new key's signature; the one before keeps the old
    const after = await vault.seal(makeRecord(ID, 100));
    // The uplink may already have taken either record into a batch of its own (the broker has no
    // headquarters to answer it): look in its in-flight batches as well as a new one.
    const items = [...vault.inFlightBatches().flatMap((b) => b.items), ...(vault.openBatch(10, 10_000_000)?.items ?? [])];
    const env = (id: string) => digestEnvelope(items.find((i) => i.recordId === id)!.envelope);
    expect(checkSignature(env(after.recordId), newPub)).toBe(true);
    expect(checkSignature(env(after.recordId), oldKey.publicKey)).toBe(false);
    expect(checkSignature(env(before.recordId), oldKey.publicKey)).toBe(true);

    // …and its audit head: the rotation's own entry and everything after is signed with the new key
    const entries = vault.audit.entriesSince(0, 10_000);
    const rotIdx = entries.findIndex((e) => e.kind === 'command_received' && e.data.name === 'rotate-key');
    expect(rotIdx).toBeGreaterThan(0);
    for (const e of entries.slice(rotIdx)) {
      expect(verify(null, auditHeadMessage(ID, e.seq, e.hash), newPub, Buffer.from(e.sig!, 'base64'))).toBe(true);
    }
    expect(verify(null, auditHeadMessage(ID, entries[0]!.seq, entries[0]!.hash), oldKey.publicKey, Buffer.from(entries[0]!.sig!, 'base64'))).toBe(true);
    expect(vault.audit.verify().ok).toBe(true);
  });

  it('after the rotation, lock and unlock (the command component) answer with the new key, and their events reach headquarters through the bus', async () => {
    const newPub = createPublicKey(readFileSync(join(fx.dataDir, 'keys', 'station-ed25519.pub'), 'utf8'));
    const oldFile = readdirSync(join(fx.dataDir, 'keys')).find((f) => /^station-ed25519\..+\.pub\.old$/.test(f))!;
    const oldPub = createPublicKey(readFileSync(join(fx.dataDir, 'keys', oldFile), 'utf8'));
    const lock = await command('lock', { reason: 'key test' });
    expect(lock.body.status).toBe('ok');
    expect(signedBy(lock.payload, newPub)).toBe(true);
    expect(signedBy(lock.payload, oldPub)).toBe(false);
    expect(station.parts.state.lock?.reason).toBe('key test');
    const unlock = await command('unlock');
    expect(unlock.body.status).toBe('ok');
    expect(signedBy(unlock.payload, newPub)).toBe(true);
    expect(station.parts.state.lock).toBeNull();
    // the events topic is ordered: 'locked' arrives before 'unlocked'
    await expect.poll(() => events.map((e) => e.kind).filter((k) => k === 'locked' || k === 'unlocked'), { timeout: 30_000 }).toEqual(['locked', 'unlocked']);
    expect(events.find((e) => e.kind === 'locked')?.data).toMatchObject({ by: 'headquarters', reason: 'key test' });
  });

  it('the uplink keeps its replay window and session counter in vault.db, not in files of its own', async () => {
    const health = await command('request-health');
    expect(health.body.status).toBe('ok');
    const state = station.parts.vault!.smallState;
    expect(Number(state.get('uplink.session'))).toBeGreaterThanOrEqual(1);
    expect(Object.keys(JSON.parse(state.get('commands.seen')!) as Record<string, number>)).toContain(health.body.id);
    for (const f of ['session.json', 'commands-seen.json', 'audit.json']) expect(existsSync(join(fx.dataDir, 'uplink', f))).toBe(false);
  });

  it('the holder is the one the vault and uplink read (no component loaded its own copy)', () => {
    const holder = station.parts.keys!;
    expect(holder).toBeInstanceOf(StationKeyHolder);
    expect(station.parts.vault!.stationPublicKey.equals(holder.current().publicKey)).toBe(true);
  });
});
