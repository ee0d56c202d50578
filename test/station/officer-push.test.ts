/**
 * `officer-push` end to end (#16 item 7: it had no test): headquarters pushes an officer's PIN
 * hash (never the PIN) in a command signed with its ops key; the booth's command component applies
 * it to the officer store and the officer can log in at the kiosk with that PIN. A push signed with
 * any other key, or whose officer is malformed, is answered refused/error with the reason and
 * changes nothing; `remove` takes the officer away again. Runs the real composition root (devices
 * simulated) against a real Mosquitto, with commands signed as `hq cmd` signs them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import mqtt from 'mqtt';
import { loadConfig } from '../../config';
import { buildStation, type StationHandle } from '../../station/app';
import { nullLogger } from '../../station/log';
import { hashPin } from '../../station/officers/store';
import { signCommand } from '../../sync/commands';
import { makeTopics, type CommandResultBody } from '../../sync/topics';
import { encodeSigned, TrustedKeys, verifySigned } from '../../sync/wire/signed';
import { loadHqPrivateKeys, loadStationSigningKey } from '../../sync/wire/keys';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { provisionedStation, type StationFixture } from '../helpers/station';
import { FAST_SCRYPT } from '../workflow/helpers';

const ID = 'ST-OFFPUSH-1';

describe('officer-push', () => {
  let broker: Mosquitto;
  let fx: StationFixture;
  let station: StationHandle;
  let hqClient: mqtt.MqttClient;
  const results: { body: CommandResultBody; payload: Buffer }[] = [];
  const t = makeTopics();

  beforeAll(async () => {
    broker = await startMosquitto();
    fx = await provisionedStation({ stationId: ID, brokerUrl: broker.url });
    hqClient = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    let online!: () => void;
    const isOnline = new Promise<void>((r) => { online = r; });
    hqClient.on('message', (topic, p) => {
      if (topic === t.status(ID)) { if (/"state":"online"/.test(p.toString())) online(); return; }
      results.push({ body: JSON.parse(JSON.parse(p.toString()).body as string) as CommandResultBody, payload: p });
    });
    await hqClient.subscribeAsync([t.cmdRes(ID), t.status(ID)], { qos: 1 });
    station = buildStation(loadConfig(fx.file, { env: {} }).config, nullLogger(), { uplink: { reconnectBaseMs: 200, reconnectMaxMs: 1000 } });
    await station.lifecycle.start();
    await isOnline; // subscribed to its commands before it announced itself online
  });
  afterAll(async () => {
    await hqClient?.endAsync();
    await station?.lifecycle.stop();
    await broker?.dispose();
    if (fx) rmSync(fx.dir, { recursive: true, force: true });
  });

  /** Publishes a signed officer-push and waits for the station's answer to that command id. */
  async function push(args: Record<string, unknown>, key = loadHqPrivateKeys(fx.hqDir).opsKey): Promise<CommandResultBody & { signedByStation: boolean }> {
    const { body, message } = signCommand({ target: ID, name: 'officer-push', args }, key);
    await hqClient.publishAsync(t.cmd(ID, 'officer-push'), encodeSigned(message), { qos: 1 });
    await expect.poll(() => results.some((r) => r.body.id === body.id), { timeout: 30_000 }).toBe(true);
    const r = results.find((x) => x.body.id === body.id)!;
    return { ...r.body, signedByStation: verifySigned(r.payload, new TrustedKeys([loadStationSigningKey(fx.dataDir).publicKey])).ok };
  }

  async function login(officerId: string, pin: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const r = await fetch(new URL('/api/login', station.kioskUrl()), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ officerId, pin }) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  }

  it('a pushed officer logs in with the PIN whose hash headquarters sent; a wrong PIN does not', async () => {
    expect((await login('hq7', '246813')).status).not.toBe(200); // not known before the push
    const r = await push({ op: 'upsert', officer: { id: 'hq7', name: 'Nguyễn Thị Hoa', pinHash: await hashPin('246813', FAST_SCRYPT) } });
    expect(r).toMatchObject({ status: 'ok', name: 'officer-push', data: { applied: true, op: 'upsert', id: 'hq7' }, signedByStation: true });
    expect(station.parts.officers!.get('hq7')).toMatchObject({ name: 'Nguyễn Thị Hoa', source: 'hq', active: true });
    const ok = await login('hq7', '246813');
    expect(ok.status).toBe(200);
    expect(ok.body.officer).toMatchObject({ id: 'hq7', name: 'Nguyễn Thị Hoa' });
    expect((await login('hq7', '246814')).status).not.toBe(200);
    const audit = station.parts.vault!.audit.entriesSince(0, 10_000).filter((e) => e.kind === 'command_received' && e.data.name === 'officer-push');
    expect(audit.map((e) => e.data)).toEqual([{ name: 'officer-push', op: 'upsert', officerId: 'hq7' }]);
    expect(JSON.stringify(audit)).not.toMatch(/scrypt\$/); // the hash is not in the audit log
  });

  it('a push signed with a key that is not the ops key is refused and applies nothing', async () => {
    const forged = generateKeyPairSync('ed25519').privateKey;
    const r = await push({ op: 'upsert', officer: { id: 'hq8', name: 'Kẻ Giả', pinHash: await hashPin('135790', FAST_SCRYPT) } }, forged);
    expect(r.status).toBe('refused');
    expect(r.code).toBe('CMD_BAD_SIGNATURE');
    expect((await login('hq8', '135790')).status).not.toBe(200);
    expect(station.parts.vault!.audit.entriesSince(0, 10_000).some((e) => e.kind === 'command_received' && e.data.officerId === 'hq8')).toBe(false);
  });

  it('a malformed officer (a PIN instead of its hash) is answered with the reason and applies nothing', async () => {
    const r = await push({ op: 'upsert', officer: { id: 'hq9', name: 'Trần Văn Bình', pinHash: '135790' } });
    expect(r).toMatchObject({ status: 'error', code: 'OFFICER_BAD_COMMAND', signedByStation: true });
    expect(r.message).toMatch(/pinHash must be scrypt/);
    expect(station.parts.officers!.get('hq9')).toBeNull();
    expect((await login('hq9', '135790')).status).not.toBe(200);
  });

  it('remove takes the officer away: the same PIN no longer logs in', async () => {
    const r = await push({ op: 'remove', id: 'hq7' });
    expect(r).toMatchObject({ status: 'ok', data: { applied: true, op: 'remove', id: 'hq7' } });
    expect((await login('hq7', '246813')).status).not.toBe(200);
  });
});
