/**
 * docs/production.md, brought up as written: certificates from docs/production/fleet-pki.sh,
 * Mosquitto with docs/production/mosquitto.conf and the ACL, `hq run` with
 * docs/production/hq.yaml, a booth with docs/production/booth-headquarters.yaml. Only the
 * host-specific parts are moved into this test's own directory (paths, the listener port
 * on loopback, and `user root` when the suite runs as root), each replacement checked to
 * hit exactly where expected. Then a round trip, `station doctor`, and the lost-booth
 * procedure (revoke, new CRL, broker restart: the booth is refused).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { Mosquitto } from '../helpers/mosquitto';
import { ROOT } from '../helpers/cli';
import { makeFixture, openOutbox, waitFor, type Fixture } from '../uplink/helpers';
import { Uplink } from '../../sync/uplink';
import { renderIncludes } from '../../config/gen-docs';
import { runDoctor, type CheckResult } from '../../station/doctor';

const DOCS = join(ROOT, 'docs', 'production');
const HQ_JS = join(ROOT, 'dist', 'sync', 'hq', 'main.js');
const STATION_ID = 'ST-PROD-1';

/** Replaces `from` by `to`, which must occur exactly `times` times (the documented file did not drift). */
function subst(text: string, from: string, to: string, times: number): string {
  const parts = text.split(from);
  expect(parts.length - 1, `"${from}" in the documented file`).toBe(times);
  return parts.join(to);
}

function hq(args: string[]): { code: number; out: string; err: string } {
  try {
    const out = execFileSync(process.execPath, [HQ_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HQ_CONFIG: undefined } }).toString();
    return { code: 0, out, err: '' };
  } catch (e) {
    const x = e as { status: number; stdout: Buffer; stderr: Buffer };
    return { code: x.status, out: x.stdout.toString(), err: x.stderr.toString() };
  }
}

describe('docs/production.md brought up as written', () => {
  let dir: string;
  let pki: string;
  let etc: string;
  let broker: Mosquitto;
  let f: Fixture;
  let hqRun: ChildProcess | null = null;
  let hqValidator: ChildProcess | null = null;
  let validatorYaml: string;
  let hqYaml: string;
  let boothYaml: string;
  const pkiSh = (...args: string[]): string => execFileSync('bash', [join(DOCS, 'fleet-pki.sh'), ...args], { env: { ...process.env, PKI: pki }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'production-'));
    pki = join(dir, 'pki');
    etc = join(dir, 'etc');
    // 1. certificates, with the documented commands
    pkiSh('init');
    pkiSh('server', '127.0.0.1');
    pkiSh('hq', 'hq');
    pkiSh('booth', STATION_ID);
    // 2. the broker: files where the guide puts them, the configuration as documented
    const mq = join(etc, 'mosquitto', 'enroll');
    mkdirSync(mq, { recursive: true });
    copyFileSync(join(pki, 'ca.crt'), join(mq, 'ca.crt'));
    copyFileSync(join(pki, 'out', 'server.crt'), join(mq, 'server.crt'));
    copyFileSync(join(pki, 'out', 'server.key'), join(mq, 'server.key'));
    copyFileSync(join(pki, 'crl.pem'), join(mq, 'crl.pem'));
    copyFileSync(join(DOCS, 'acl'), join(mq, 'acl'));
    const conf = readFileSync(join(DOCS, 'mosquitto.conf'), 'utf8');
    mkdirSync(join(dir, 'mosquitto-data'));
    broker = new Mosquitto({
      fullConfig: (port) => {
        let c = subst(conf, '/etc/mosquitto/enroll/', `${mq}/`, 6); // 5 settings + the header comment
        c = subst(c, '/var/lib/mosquitto/', `${join(dir, 'mosquitto-data')}/`, 1);
        c = subst(c, '\nlistener 8883\n', `\nlistener ${port} 127.0.0.1\n`, 1);
        // as root, Mosquitto would switch to the "mosquitto" user, who cannot read this test's private directory
        return `${process.getuid?.() === 0 ? 'user root\n' : ''}${c}`;
      },
    });
    await broker.start();
    const url = `mqtts://127.0.0.1:${broker.port}`;

    // 3. headquarters: the documented settings file
    f = await makeFixture(STATION_ID);
    const hqTls = join(etc, 'enroll-hq', 'tls');
    mkdirSync(hqTls, { recursive: true });
    copyFileSync(join(pki, 'ca.crt'), join(hqTls, 'ca.crt'));
    copyFileSync(join(pki, 'out', 'hq.crt'), join(hqTls, 'hq.crt'));
    copyFileSync(join(pki, 'out', 'hq.key'), join(hqTls, 'hq.key'));
    // keys by duty, as the guide installs them: f.hqDir is where `hq init` ran (all three files)
    const ingestDir = join(dir, 'var-lib-enroll-hq');
    const validatorDir = join(dir, 'var-lib-enroll-hqval');
    const socket = join(dir, 'run-enroll-hqval', 'validator.sock');
    for (const d of [join(ingestDir, 'keys'), join(validatorDir, 'keys'), dirname(socket)]) mkdirSync(d, { recursive: true, mode: 0o700 });
    copyFileSync(join(f.hqDir, 'keys', 'hq-record-keys.json'), join(validatorDir, 'keys', 'hq-record-keys.json'));
    copyFileSync(join(f.hqDir, 'keys', 'hq-receipt-keys.json'), join(ingestDir, 'keys', 'hq-receipt-keys.json'));
    copyFileSync(join(f.hqDir, 'keys', 'hq-public.json'), join(ingestDir, 'keys', 'hq-public.json'));
    let h = readFileSync(join(DOCS, 'hq.yaml'), 'utf8');
    h = subst(h, '/etc/enroll-hq/tls/', `${hqTls}/`, 3);
    h = subst(h, 'dataDir: /var/lib/enroll-hq', `dataDir: ${ingestDir}`, 1);
    h = subst(h, 'mqtts://broker.example.vn:8883', url, 1);
    h = subst(h, '/run/enroll-hqval/validator.sock', socket, 1);
    hqYaml = join(etc, 'enroll-hq', 'hq.yaml');
    writeFileSync(hqYaml, h);
    let v = readFileSync(join(DOCS, 'validator.yaml'), 'utf8');
    v = subst(v, 'dataDir: /var/lib/enroll-hqval', `dataDir: ${validatorDir}`, 1);
    v = subst(v, '/run/enroll-hqval/validator.sock', socket, 1);
    validatorYaml = join(etc, 'enroll-hq', 'validator.yaml');
    writeFileSync(validatorYaml, v);

    // 4. the booth: its certificate where the guide puts it, the documented headquarters section
    const stTls = join(etc, 'enroll-station', 'tls');
    mkdirSync(stTls, { recursive: true });
    copyFileSync(join(pki, 'ca.crt'), join(stTls, 'ca.crt'));
    copyFileSync(join(pki, 'out', `${STATION_ID}.crt`), join(stTls, 'station.crt'));
    copyFileSync(join(pki, 'out', `${STATION_ID}.key`), join(stTls, 'station.key'));
    copyFileSync(join(f.hqDir, 'keys', 'hq-public.json'), join(etc, 'enroll-station', 'hq-public.json'));
    let b = readFileSync(join(DOCS, 'booth-headquarters.yaml'), 'utf8');
    b = subst(b, '/etc/enroll-station/', `${join(etc, 'enroll-station')}/`, 5);
    b = subst(b, 'mqtts://broker.example.vn:8883', url, 1);
    boothYaml = join(etc, 'enroll-station', 'config.yaml');
    writeFileSync(boothYaml, [
      'version: 1',
      `station: { id: ${STATION_ID}, unit: { code: "00007" } }`,
      `dataDir: ${join(dir, 'station-data')}`,
      'devices: { fingerprint: { simulated: true }, camera: { simulated: true }, card: { simulated: true }, gpio: { simulated: true } }',
      b,
    ].join('\n'));
  });
  afterAll(async () => {
    hqRun?.kill('SIGKILL');
    hqValidator?.kill('SIGKILL');
    await broker?.dispose();
    f?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the guide includes the files this test runs, verbatim', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'production.md'), 'utf8');
    expect(renderIncludes(doc), 'docs/production.md is out of date: run `npm run docs:config -- --write`').toBe(doc);
    for (const file of ['fleet-pki.sh', 'mosquitto.conf', 'acl', 'hq.yaml', 'validator.yaml', 'booth-headquarters.yaml']) {
      expect(doc).toContain(`<!-- include docs/production/${file} `);
      expect(doc).toContain(readFileSync(join(DOCS, file), 'utf8').trimEnd());
    }
  });

  it('round trip: hq with the settings file, the booth with its certificate, records stored and acknowledged', async () => {
    const check = hq(['config', 'check', '--config', hqYaml]);
    expect(check.code, check.err).toBe(0);
    expect(check.out).toMatch(/ok \(data .*, broker mqtts:\/\/127\.0\.0\.1:\d+, client certificate\)/);
    const reg = hq(['register', f.provisionFile, '--config', hqYaml]);
    expect(reg.code, reg.err).toBe(0);
    hqValidator = spawn(process.execPath, [HQ_JS, 'validator', '--config', validatorYaml], { stdio: ['ignore', 'pipe', 'pipe'] });
    let valLog = '';
    hqValidator.stdout!.on('data', (d: Buffer) => { valLog += d.toString(); });
    hqValidator.stderr!.on('data', (d: Buffer) => { valLog += d.toString(); });
    await waitFor(() => /record validator listening/.test(valLog), 60_000, `hq validator listening (log: ${valLog.slice(-500)})`);
    hqRun = spawn(process.execPath, [HQ_JS, 'run', '--config', hqYaml], { stdio: ['ignore', 'pipe', 'pipe'] });
    let hqLog = '';
    hqRun.stdout!.on('data', (d: Buffer) => { hqLog += d.toString(); });
    hqRun.stderr!.on('data', (d: Buffer) => { hqLog += d.toString(); });

    // the worker announces itself once subscribed (the records then have somewhere to go at once)
    await waitFor(() => /headquarters ingest online/.test(hqLog), 60_000, `hq run online (log: ${hqLog.slice(-500)})`);
    expect(hqLog).toMatch(/holds no record key/);
    const ob = await openOutbox(f);
    const ids = await ob.sealN(3, 2_000);
    const tls = join(etc, 'enroll-station', 'tls');
    const up = new Uplink({
      brokerUrl: `mqtts://127.0.0.1:${broker.port}`, stationId: STATION_ID, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem), hqIdentity: f.hqPublic, dataDir: f.stationDir,
      tls: { ca: readFileSync(join(tls, 'ca.crt')), cert: readFileSync(join(tls, 'station.crt')), key: readFileSync(join(tls, 'station.key')) },
    });
    await up.start();
    try {
      await waitFor(() => ob.acked() === ids.length, 60_000, `all acknowledged through the documented broker (hq: ${hqLog.slice(-500)})`);
    } finally {
      await up.stop();
      ob.close();
    }
    for (const id of ids) expect(hqLog).toContain(id);
    hqRun.kill('SIGTERM');
    await new Promise((r) => hqRun!.once('exit', r));
    hqRun = null;
  });

  it('station doctor passes on the documented booth; after the lost-booth procedure the broker refuses it', async () => {
    const get = (rs: CheckResult[], name: string): CheckResult => rs.find((x) => x.check === name)!;
    const ok = await runDoctor({ configPath: boothYaml, brokerTimeoutMs: 30_000 });
    expect(get(ok, 'client certificate')).toMatchObject({ status: 'ok' });
    expect(get(ok, 'broker certificate')).toMatchObject({ status: 'ok' });
    expect(get(ok, 'broker'), JSON.stringify(get(ok, 'broker'))).toMatchObject({ status: 'ok' });

    // §6: revoke, copy the new CRL to the broker, restart it
    expect(pkiSh('revoke', STATION_ID)).toMatch(/revoked ST-PROD-1/);
    copyFileSync(join(pki, 'crl.pem'), join(etc, 'mosquitto', 'enroll', 'crl.pem'));
    await broker.restart();
    const lost = await runDoctor({ configPath: boothYaml, brokerTimeoutMs: 30_000 });
    const b = get(lost, 'broker');
    expect(b.status).toBe('fail');
    expect(b.message).toMatch(/REVOKED/);
    expect(b.hint).toMatch(/revoked this booth's certificate/);
  });
});
