/**
 * The `hq` tool end to end against a real Mosquitto and a station uplink on the
 * real vault: init, register, stations, cmd (with replay refused), open, alarms.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { ROOT } from '../helpers/cli';
import { generateKeyPairSync, createPrivateKey } from 'node:crypto';
import mqtt from 'mqtt';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { startHq, type HqHandle } from '../../sync/hq/ingest';
import { Uplink } from '../../sync/uplink';
import { Vault } from '../../station/vault';
import { loadHqPublicIdentity, loadHqPrivateKeys } from '../../sync/wire';
import { signCommand } from '../../sync/commands';
import { encodeSigned } from '../../sync/wire/signed';
import { makeRecord, waitFor } from '../uplink/helpers';
import { topics } from '../../sync/topics';
import type { OfflinePolicy } from '../../sync/commands';
import pino from 'pino';
import { hqInProcess } from '../helpers/hq-inprocess';

const HQ_JS = join(ROOT, 'dist', 'sync', 'hq', 'main.js');
const testLog = process.env.UPLINK_TEST_LOG ? pino({ level: process.env.UPLINK_TEST_LOG }, pino.destination(2)) : undefined;

const hq = hqInProcess;

describe('hq command-line tool', () => {
  let broker: Mosquitto;
  let root: string;
  let dataDir: string;
  let stationDir: string;
  let ingest: HqHandle;
  let vault: Vault;
  let up: Uplink;
  const calls: { name: string; arg: unknown }[] = [];
  const g = () => ['--data-dir', dataDir, '--broker', broker.url];

  beforeAll(async () => {
    broker = await startMosquitto();
    root = mkdtempSync(join(tmpdir(), 'hqcli-'));
    dataDir = join(root, 'hq');
    stationDir = join(root, 'station');
    mkdirSync(stationDir, { recursive: true });
  });
  afterAll(async () => {
    await up?.stop(2_000);
    vault?.close();
    await ingest?.stop();
    await broker?.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  it('init writes the keys and prints the public identity', async () => {
    const r = await hq([...g(), 'init', '--json', '--public-out', join(root, 'hq-public.json')]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { public: { receiptEd25519: string; opsEd25519: string } };
    expect(j.public.receiptEd25519).not.toBe(j.public.opsEd25519);
    // one file per duty, each a list of generations, readable only by its owner
    for (const f of ['hq-record-keys.json', 'hq-receipt-keys.json', 'hq-ops-keys.json']) expect(statSync(join(dataDir, 'keys', f)).mode & 0o777, f).toBe(0o600);
    expect(existsSync(join(dataDir, 'keys', 'hq-private.json'))).toBe(false);
    expect(existsSync(join(root, 'hq-public.json'))).toBe(true);
    const again = await hq([...g(), 'init']);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already exist/);
    expect(again.err).toMatch(/hq init --rotate/);
    const bad = await hq([...g(), 'init', '--rotate', 'records']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/"records" is not a key duty/);
    // --rotate adds a generation of the named duty and keeps the others as they are
    const rot = await hq([...g(), 'init', '--rotate', 'record', '--json']);
    expect(rot.code).toBe(0);
    const rj = JSON.parse(rot.out) as { generations: Record<string, number>; public: { receiptEd25519: string; xWing: string } };
    expect(rj.generations).toEqual({ record: 2, receipt: 1, ops: 1 });
    expect(rj.public.receiptEd25519).toBe(j.public.receiptEd25519);
    expect(rj.public.xWing).not.toBe((j.public as unknown as { xWing: string }).xWing);
  });

  it('register accepts provision output and refuses bad files', async () => {
    const pair = generateKeyPairSync('ed25519');
    writeFileSync(join(root, 'key.pem'), pair.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const prov = { stationId: 'ST-CLI-1', unit: { code: 'U-7', name: 'Ward 7', district: 'D', dailyQuota: 40 }, publicKey: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(), createdAt: new Date().toISOString() };
    writeFileSync(join(root, 'prov.json'), JSON.stringify(prov));
    const r = await hq([...g(), 'register', join(root, 'prov.json'), '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ stationId: 'ST-CLI-1', unit: 'U-7' });
    // the format `station provision --json` prints: raw base64 key, fingerprint, provisionedAt
    const p2 = generateKeyPairSync('ed25519');
    const raw = Buffer.from((p2.publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url');
    const { keyId } = await import('../../sync/wire/signed.js');
    const ident = { format: 'enroll-station/station-identity', version: 1, stationId: 'ST-CLI-9', unit: { code: 'U-9', name: 'n', district: 'd' }, publicKeyPem: p2.publicKey.export({ format: 'pem', type: 'spki' }).toString(), publicKey: raw.toString('base64'), fingerprint: keyId(p2.publicKey), provisionedAt: new Date().toISOString() };
    writeFileSync(join(root, 'ident.json'), JSON.stringify(ident));
    const r2 = await hq([...g(), 'register', join(root, 'ident.json'), '--quota', '30', '--json']);
    expect(r2.code).toBe(0);
    expect(JSON.parse(r2.out)).toMatchObject({ stationId: 'ST-CLI-9', unit: 'U-9', fingerprint: ident.fingerprint });
    writeFileSync(join(root, 'ident-bad.json'), JSON.stringify({ ...ident, stationId: 'ST-CLI-10', fingerprint: '0000000000000000' }));
    const r3 = await hq([...g(), 'register', join(root, 'ident-bad.json')]);
    expect(r3.code).toBe(2);
    expect(r3.err).toMatch(/does not match its public key/);
    writeFileSync(join(root, 'bad.json'), JSON.stringify({ stationId: 'ST-CLI-2', publicKey: 'AAAA' }));
    const bad = await hq([...g(), 'register', join(root, 'bad.json')]);
    expect(bad.code).toBe(2);
    const missing = await hq([...g(), 'register', join(root, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot read/);
  });

  it('stations, cmd, open and alarms work against a live station', async () => {
    ingest = await startHq({ brokerUrl: broker.url, dataDir, workerId: 'cli-w', logger: testLog });
    await waitFor(() => ingest.connected(), 20_000, 'ingest connected');
    const key = createPrivateKey(readFileSync(join(root, 'key.pem'), 'utf8'));
    const hqPub = loadHqPublicIdentity(join(root, 'hq-public.json'));
    vault = await Vault.open({ dataDir: stationDir, stationId: 'ST-CLI-1', signingKey: key, hqIdentity: hqPub });
    let locked = false;
    up = new Uplink({
      brokerUrl: broker.url, stationId: 'ST-CLI-1', outbox: vault, signingKey: key, hqIdentity: hqPub, dataDir: stationDir, logger: testLog,
      health: () => {
        const s = vault.stats();
        return { v: 1, at: Date.now(), version: 'test', uptimeS: 5, diskFreeBytes: s.freeBytes, backlog: { count: s.sealed + s.inFlight, oldestAgeMs: s.oldestUnackedAgeMs }, lastReceiptAt: s.lastReceiptAt, devices: [{ name: 'fingerprint', state: 'ok' }, { name: 'camera', state: 'missing' }], cpuTempC: 51, clockOffsetMs: 3, enrollments: { today: 10, quota: 40, unit: 'U-7' }, locked };
      },
      commands: {
        lock: (a) => { locked = true; calls.push({ name: 'lock', arg: a }); return { locked: true }; },
        unlock: () => { locked = false; calls.push({ name: 'unlock', arg: null }); },
        setPolicy: (p: OfflinePolicy) => { calls.push({ name: 'setPolicy', arg: p }); return { policy: p }; },
        rotateKey: () => { throw Object.assign(new Error('rotation needs the technician PIN'), { code: 'ROTATE_DENIED' }); },
      },
    });
    await up.start();
    const r1 = await vault.seal(makeRecord('ST-CLI-1', 2000));
    await waitFor(() => vault.stats().released + vault.stats().acknowledged === 1, 20_000, 'record acknowledged');

    // stations
    await waitFor(async () => {
      const s = await hq([...g(), 'stations', '--json', '--wait', '1.5']);
      const v = JSON.parse(s.out) as { stations: { stationId: string; state: string; lastReceiptAt: number | null; backlog: number | null }[] };
      const st = v.stations.find((x) => x.stationId === 'ST-CLI-1');
      return st?.state === 'online' && st.lastReceiptAt !== null && st.backlog === 0;
    }, 30_000, 'fleet shows the station online with a receipt');
    const text = await hq([...g(), 'stations']);
    expect(text.out).toMatch(/ST-CLI-1\s+U-7\s+online/);
    expect(text.out).toMatch(/unit U-7: 1 station\(s\), 10 enrollment\(s\) today of 40 \(25%\)/);
    expect(text.out).toMatch(/camera:missing/);

    // commands (watch the wire to replay one)
    const spy = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    const seenCmds: Buffer[] = [];
    const answers: string[] = [];
    spy.on('message', (t, p) => { if (t.includes('/cmd/')) seenCmds.push(p); else answers.push(p.toString()); });
    await spy.subscribeAsync([topics.cmdWildcard('ST-CLI-1'), topics.cmdRes('ST-CLI-1')], { qos: 1 });
    const lock = await hq([...g(), 'cmd', 'ST-CLI-1', 'lock', 'reason=audit', '--json', '--wait', '20']);
    expect(lock.code).toBe(0);
    expect(JSON.parse(lock.out)).toMatchObject({ result: { status: 'ok', data: { locked: true } }, verified: true });
    expect(calls).toContainEqual({ name: 'lock', arg: { reason: 'audit' } });
    const pol = await hq([...g(), 'cmd', 'ST-CLI-1', 'set-policy', 'maxUnacknowledged=500', 'maxDaysSinceReceipt=7', '--wait', '20']);
    expect(pol.code, pol.err).toBe(0);
    expect(calls).toContainEqual({ name: 'setPolicy', arg: { maxUnacked: 500, maxDaysSinceReceipt: 7 } });
    // a misspelt key is refused before anything is signed (it used to clear both limits)
    const sent = calls.length;
    const typo = await hq([...g(), 'cmd', 'ST-CLI-1', 'set-policy', 'maxUnacked=100']);
    expect(typo.code).toBe(2);
    expect(typo.err).toMatch(/set-policy does not take "maxUnacked" — allowed: maxUnacknowledged, maxDaysSinceReceipt/);
    const nul = await hq([...g(), 'cmd', 'ST-CLI-1', 'set-policy', 'maxDaysSinceReceipt=null']);
    expect(nul.code).toBe(2);
    expect(nul.err).toMatch(/or none to remove the limit/);
    const stray = await hq([...g(), 'cmd', 'ST-CLI-1', 'lock', 'reson=audit']);
    expect(stray.code).toBe(2);
    expect(stray.err).toMatch(/lock does not take "reson" — allowed: reason \(did you mean "reason"\?\)/);
    // only the limit given changes; none removes one
    const one = await hq([...g(), 'cmd', 'ST-CLI-1', 'set-policy', 'maxUnacknowledged=none', '--wait', '20']);
    expect(one.code, one.err).toBe(0);
    expect(calls.slice(sent)).toEqual([{ name: 'setPolicy', arg: { maxUnacked: null } }]);
    // an unregistered station is a usage error naming the registered ones; nothing is sent
    const stranger = await hq([...g(), 'cmd', 'ST-CLI-X', 'sync-now']);
    expect(stranger.code).toBe(2);
    expect(stranger.err).toMatch(/station "ST-CLI-X" is not registered at headquarters/);
    expect(stranger.err).toMatch(/registered stations: ST-CLI-1, ST-CLI-9/);
    expect(calls.slice(sent)).toHaveLength(1);
    // the executable returns as soon as the answer is in: with a 10-minute --wait it would
    // otherwise outlive this test's timeout (the timer used to keep the process alive)
    // (spawned asynchronously: the station answering lives in this process)
    const quick = await new Promise<{ status: number | null; stdout: string; stderr: string }>((res) => {
      const p = spawn(process.execPath, [HQ_JS, ...g(), 'cmd', 'ST-CLI-1', 'request-health', '--wait', '600', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      p.on('close', (status) => res({ status, stdout, stderr }));
    });
    expect(quick.status, quick.stderr).toBe(0);
    expect(JSON.parse(quick.stdout)).toMatchObject({ result: { status: 'ok', name: 'request-health' }, verified: true });
    const rot = await hq([...g(), 'cmd', 'ST-CLI-1', 'rotate-key', '--wait', '20']);
    expect(rot.code).toBe(1);
    expect(rot.out).toMatch(/error \(ROTATE_DENIED\): rotation needs the technician PIN/);
    const unknown = await hq([...g(), 'cmd', 'ST-CLI-1', 'self-destruct']);
    expect(unknown.code).toBe(2);
    // replaying a captured, validly signed command is refused and answered
    await waitFor(() => seenCmds.length >= 1, 10_000, 'captured command');
    const before = answers.length;
    await spy.publishAsync(topics.cmd('ST-CLI-1', 'lock'), seenCmds[0]!, { qos: 1 });
    await waitFor(() => answers.slice(before).some((a) => a.includes('CMD_REPLAYED')), 20_000, 'replay refused');
    expect(calls.filter((c) => c.name === 'lock')).toHaveLength(1);
    // a validly signed command with an argument it does not take is refused by the station before any effect
    const ops = loadHqPrivateKeys(join(dataDir, 'keys')).opsKey;
    const stray2 = signCommand({ target: 'ST-CLI-1', name: 'lock', args: { reason: 'x', until: 'forever' } }, ops);
    const before2 = answers.length;
    await spy.publishAsync(topics.cmd('ST-CLI-1', 'lock'), encodeSigned(stray2.message), { qos: 1 });
    await waitFor(() => answers.slice(before2).some((a) => a.includes('CMD_BAD_ARGS') && a.includes(stray2.body.id)), 20_000, 'stray argument refused');
    expect(calls.filter((c) => c.name === 'lock')).toHaveLength(1);
    await spy.endAsync();

    // open
    const op = await hq([...g(), 'open', r1.recordId, '--reason', 'court order 12', '--operator', 'auditor', '--json']);
    expect(op.err).toBe('');
    expect(op.code).toBe(0);
    expect(JSON.parse(op.out)).toMatchObject({ recordId: r1.recordId, stationId: 'ST-CLI-1', details: { surname: 'TEST' } });
    const log = ingest.db.prepare('SELECT operator, reason FROM record_openings WHERE record_id = ?').all(r1.recordId);
    expect(log).toEqual([{ operator: 'auditor', reason: 'court order 12' }]);
    const nf = await hq([...g(), 'open', '01900000-0000-7000-8000-000000000001', '--reason', 'x']);
    expect(nf.code).toBe(1);
    expect(nf.err).toMatch(/not stored at headquarters/);

    const al = await hq([...g(), 'alarms', '--json']);
    expect(al.code).toBe(0);
    expect(Array.isArray(JSON.parse(al.out))).toBe(true);
  });

  it('the hq executable starts', () => {
    const r = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, '..', '..', 'sync', 'hq', 'main.ts'), '--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/register/);
    expect(r.stdout).toMatch(/stations/);
  });
});
