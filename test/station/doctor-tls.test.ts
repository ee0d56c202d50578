/**
 * `station doctor` against a production-like broker: a real Mosquitto with TLS,
 * require_certificate, use_identity_as_username and the per-station ACL, certificates
 * made with `openssl` in this test's own directory. Each common mistake must be caught
 * by the check it belongs to, with a hint naming the setting and the fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { makeCa, issue, type Ca } from '../helpers/pki';
import { runCli, ROOT } from '../helpers/cli';
import { runDoctor, type CheckResult } from '../../station/doctor';
import { checkBrokerCertificate, checkClientCertificate } from '../../station/doctor-tls';
import { loadConfig } from '../../config';
import { generateHqKeys, writeHqKeys } from '../../sync/wire/keys';

const DAY = 86_400_000;
/** The ACL of docs/production.md, as installed on the broker. */
const ACL = readFileSync(join(ROOT, 'docs', 'production', 'acl'), 'utf8');

describe('station doctor: TLS, client certificates and the ACL', () => {
  let dir: string;
  let ca: Ca;
  let other: Ca;
  let broker: Mosquitto;
  let hqPublic: string;
  const certs: Record<string, { crt: string; key: string }> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'doctor-tls-'));
    ca = makeCa(join(dir, 'pki'), 'ca', 'Fleet CA');
    other = makeCa(join(dir, 'pki'), 'other', 'Some other CA');
    const server = issue(ca, 'server', { cn: '127.0.0.1', kind: 'server' });
    certs.good = issue(ca, 'st-1', { cn: 'ST-TLS-1', kind: 'client' });
    certs.wrongCn = issue(ca, 'st-2', { cn: 'ST-TLS-2', kind: 'client' });
    certs.expired = issue(ca, 'st-1-old', { cn: 'ST-TLS-1', kind: 'client', notBefore: Date.now() - 400 * DAY, notAfter: Date.now() - 35 * DAY });
    certs.foreign = issue(other, 'st-1-foreign', { cn: 'ST-TLS-1', kind: 'client' });
    writeFileSync(join(dir, 'acl'), ACL);
    broker = await startMosquitto({ extra: [
      `cafile ${ca.crt}`, `certfile ${server.crt}`, `keyfile ${server.key}`,
      'require_certificate true', 'use_identity_as_username true', `acl_file ${join(dir, 'acl')}`,
    ] });
    writeHqKeys(join(dir, 'hq'), await generateHqKeys('test'));
    hqPublic = join(dir, 'hq', 'hq-public.json');
  });
  afterAll(async () => {
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  let n = 0;
  function config(o: { id?: string; caFile?: string | null; cert?: { crt: string; key: string } | null; prefix?: string }): string {
    const sub = join(dir, `c${++n}`);
    const file = `${sub}.yaml`;
    const cert = o.cert === undefined ? certs.good : o.cert;
    writeFileSync(file, [
      'version: 1',
      `station: { id: ${o.id ?? 'ST-TLS-1'}, unit: { code: "00007" } }`,
      `dataDir: ${join(sub, 'data')}`,
      'devices: { fingerprint: { simulated: true }, camera: { simulated: true }, card: { simulated: true }, gpio: { simulated: true } }',
      'headquarters:',
      `  brokerUrl: "mqtts://127.0.0.1:${broker.port}"`,
      `  caFile: ${o.caFile === undefined ? ca.crt : o.caFile === null ? 'null' : o.caFile}`,
      `  certFile: ${cert ? cert.crt : 'null'}`,
      `  keyFile: ${cert ? cert.key : 'null'}`,
      `  publicKeyFile: ${hqPublic}`,
      ...(o.prefix ? [`  topicPrefix: ${o.prefix}`] : []),
      '',
    ].join('\n'));
    return file;
  }
  const doctor = (file: string): Promise<CheckResult[]> => runDoctor({ configPath: file, brokerTimeoutMs: 30_000, deviceTimeoutMs: 30_000 });
  const get = (rs: CheckResult[], name: string): CheckResult => {
    const r = rs.find((x) => x.check === name);
    expect(r, `no "${name}" check in ${JSON.stringify(rs.map((x) => x.check))}`).toBeDefined();
    return r!;
  };

  it('a booth set up right: certificate, broker certificate and an ACL probe that comes back', async () => {
    const rs = await doctor(config({}));
    expect(get(rs, 'client certificate')).toMatchObject({ status: 'ok', message: expect.stringMatching(/CN=ST-TLS-1 = station.id, key matches/) });
    expect(get(rs, 'broker certificate')).toMatchObject({ status: 'ok', message: expect.stringMatching(/issued by CN=Fleet CA/) });
    expect(get(rs, 'broker')).toMatchObject({ status: 'ok', message: expect.stringMatching(/probe published on enroll\/v1\/st\/ST-TLS-1\/probe came back/) });
  });

  it('certificate CN ≠ station id: caught offline, and the broker refuses the probe (PUBACK not authorized)', async () => {
    const rs = await doctor(config({ cert: certs.wrongCn }));
    const c = get(rs, 'client certificate');
    expect(c.status).toBe('fail');
    expect(c.message).toMatch(/certificate is for CN=ST-TLS-2, but station.id is ST-TLS-1/);
    expect(c.hint).toMatch(/Issue a certificate with CN=ST-TLS-1/);
    const b = get(rs, 'broker');
    expect(b.status).toBe('fail');
    expect(b.message).toMatch(/refused to let this station publish on enroll\/v1\/st\/ST-TLS-1\/probe \(MQTT reason code 135, not authorized\)/);
    expect(b.hint).toMatch(/knows this booth as "ST-TLS-2", not ST-TLS-1/);
  });

  it('the ACL does not cover the station\'s topics: the probe is refused, the hint names the ACL', async () => {
    const rs = await doctor(config({ prefix: 'enroll/v2' }));
    expect(get(rs, 'client certificate').status).toBe('ok');
    const b = get(rs, 'broker');
    expect(b.status).toBe('fail');
    expect(b.message).toMatch(/enroll\/v2\/st\/ST-TLS-1\/probe \(MQTT reason code 135/);
    expect(b.hint).toMatch(/ACL does not give the identity of its certificate \(CN=ST-TLS-1\)/);
  });

  it('no client certificate: named before connecting, and the broker\'s "certificate required" is explained', async () => {
    const rs = await doctor(config({ cert: null }));
    const c = get(rs, 'client certificate');
    expect(c.status).toBe('fail');
    expect(c.message).toMatch(/headquarters.certFile is not set/);
    const b = get(rs, 'broker');
    expect(b.status).toBe('fail');
    expect(b.message).toMatch(/ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED/);
    expect(b.hint).toMatch(/requires a client certificate .* set headquarters.certFile and headquarters.keyFile/);
    expect(b.hint).not.toMatch(/caFile|clock/);
    // a certificate file that is not there is named too
    const missing = await doctor(config({ cert: { crt: join(dir, 'nope.crt'), key: certs.good.key } }));
    expect(get(missing, 'client certificate')).toMatchObject({ status: 'fail', message: expect.stringMatching(/cannot read .*nope\.crt: ENOENT/) });
  });

  it('an expired client certificate: the date, and the renewal; the broker says the same', async () => {
    const rs = await doctor(config({ cert: certs.expired }));
    const c = get(rs, 'client certificate');
    expect(c.status).toBe('fail');
    expect(c.message).toMatch(/expired on 20\d\d-/);
    expect(c.hint).toMatch(/Issue a new certificate for ST-TLS-1 .*Renewal/);
    const b = get(rs, 'broker');
    expect(b.status).toBe('fail');
    expect(b.hint).toMatch(/client certificate has expired/);
  });

  it('a client certificate from a CA the broker does not trust', async () => {
    const rs = await doctor(config({ cert: certs.foreign }));
    const c = get(rs, 'client certificate');
    expect(c.status).toBe('warn');
    expect(c.message).toMatch(/issued by CN=Some other CA, not by a CA in headquarters.caFile/);
    const b = get(rs, 'broker');
    expect(b.status).toBe('fail');
    expect(b.message).toMatch(/ALERT_UNKNOWN_CA/);
    expect(b.hint).toMatch(/does not trust the CA that issued headquarters.certFile/);
  });

  it('CA mismatch: headquarters.caFile did not issue the broker\'s certificate; the issuer is named', async () => {
    const rs = await doctor(config({ caFile: other.crt }));
    const s = get(rs, 'broker certificate');
    expect(s.status).toBe('fail');
    expect(s.message).toMatch(/issuer CN=Fleet CA\) is not signed by headquarters.caFile .*other\.crt \(CN=Some other CA\)/);
    expect(s.hint).toMatch(/Install the CA that issued the broker's certificate at headquarters.caFile/);
    expect(get(rs, 'broker').status).toBe('skip');
  });

  it('clock skew against the broker certificate\'s validity: a clock behind is the station\'s clock', async () => {
    const { config: cfg } = loadConfig(config({}), { env: {} });
    const pem = new X509Certificate(readFileSync(join(dir, 'pki', 'server.crt')));
    const behind = await checkBrokerCertificate(cfg, Date.parse(pem.validFrom) - 3 * DAY, 30_000);
    expect(behind).toMatchObject({ status: 'fail', message: expect.stringMatching(/valid from .* but the station clock says/) });
    expect(behind!.hint).toMatch(/station clock is behind: set it \(timedatectl/);
    const ahead = await checkBrokerCertificate(cfg, Date.parse(pem.validTo) + DAY, 30_000);
    expect(ahead).toMatchObject({ status: 'fail', message: expect.stringMatching(/broker's certificate expired on/) });
    expect(ahead!.hint).toMatch(/renewed at headquarters .* otherwise the station clock is ahead/);
    // and the client certificate against the same clock
    const early = checkClientCertificate(cfg, Date.parse(new X509Certificate(readFileSync(certs.good.crt)).validFrom) - DAY);
    expect(early).toMatchObject({ status: 'fail', message: expect.stringMatching(/valid only from/) });
    expect(early!.hint).toMatch(/station clock is behind/);
  });

  it('the command line: exit 1, the failing check and its hint in words', async () => {
    const r = await runCli(['doctor', '--config', config({ cert: certs.wrongCn })], { timeoutMs: 120_000 });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\[FAIL\] client certificate: the certificate is for CN=ST-TLS-2/);
    expect(r.stdout).toMatch(/→ Issue a certificate with CN=ST-TLS-1/);
    expect(r.stdout).not.toMatch(/all checks passed/);
  });
});
