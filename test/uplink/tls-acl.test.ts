/**
 * Production-like broker: TLS with client certificates (identity = certificate
 * CN = station id) and the per-station ACL from docs/mqtt-api.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import mqtt from 'mqtt';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { makeFixture, openOutbox, waitFor, hqPrivate, type Fixture } from './helpers';
import { checkInvariant } from './invariant';
import { Uplink } from '../../sync/uplink';
import { startHq } from '../../sync/hq/ingest';
import { topics } from '../../sync/topics';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

function makePki(dir: string, clients: string[]): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=test-ca'], dir);
  const issue = (name: string, cn: string, ext: string) => {
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`], dir);
  };
  issue('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  for (const c of clients) issue(c, c, 'extendedKeyUsage=clientAuth\n');
}

describe('TLS with client certificates and per-station ACL', () => {
  let pki: string;
  let broker: Mosquitto;
  let f: Fixture;
  beforeAll(async () => {
    pki = mkdtempSync(join(tmpdir(), 'pki-'));
    makePki(pki, ['st-tls', 'st-other', 'hq']);
    const acl = join(pki, 'acl');
    writeFileSync(acl, [
      'user hq',
      'topic readwrite enroll/v1/#',
      '',
      'pattern write enroll/v1/st/%u/status',
      'pattern write enroll/v1/st/%u/health',
      'pattern write enroll/v1/st/%u/events',
      'pattern write enroll/v1/st/%u/batch',
      'pattern write enroll/v1/st/%u/audit',
      'pattern write enroll/v1/st/%u/cmd-res',
      'pattern readwrite enroll/v1/st/%u/probe',
      'pattern read enroll/v1/st/%u/receipt',
      'pattern read enroll/v1/st/%u/cmd/#',
      'pattern read enroll/v1/st/%u/status',
      'topic read enroll/v1/hq/ingest/#',
      '',
    ].join('\n'));
    broker = await startMosquitto({ extra: [
      `cafile ${join(pki, 'ca.crt')}`, `certfile ${join(pki, 'server.crt')}`, `keyfile ${join(pki, 'server.key')}`,
      'require_certificate true', 'use_identity_as_username true', `acl_file ${acl}`,
    ] });
    f = await makeFixture('st-tls');
  });
  afterAll(async () => {
    await broker?.dispose();
    f?.cleanup();
    rmSync(pki, { recursive: true, force: true });
  });

  it('delivers over mqtts with client certificates; another station cannot publish into this station\'s topics', async () => {
    const url = `mqtts://127.0.0.1:${broker.port}`;
    const tlsFor = (n: string) => ({ ca: readFileSync(join(pki, 'ca.crt')), cert: readFileSync(join(pki, `${n}.crt`)), key: readFileSync(join(pki, `${n}.key`)) });
    const hq = await startHq({ brokerUrl: url, dataDir: f.hqDir, workerId: 'tls', tls: tlsFor('hq') });
    hq.store.registerStation({ stationId: f.stationId, publicKey: f.stationPubPem });
    await waitFor(() => hq.connected(), 20_000, 'hq connected over TLS');
    const ob = await openOutbox(f);
    const ids = await ob.sealN(6, 2_000);
    const up = new Uplink({ brokerUrl: url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem), hqIdentity: f.hqPublic, dataDir: f.stationDir, tls: tlsFor('st-tls'), maxBatchRecords: 2 });
    await up.start();
    await waitFor(() => ob.acked() === ids.length, 30_000, 'all acknowledged over TLS');
    checkInvariant({ ids, stationId: f.stationId, hq: hq.store, states: ob.states(), receiptOf: (id) => ob.receiptOf(id), receiptKey: hqPrivate(f).receiptKey, expectAllAcked: true });

    // st-other may not write into st-tls's subtree nor read its receipts
    const other = await mqtt.connectAsync(url, { protocolVersion: 5, ...tlsFor('st-other') });
    const overheard: string[] = [];
    other.on('message', (t) => overheard.push(t));
    await other.subscribeAsync([topics.receipt(f.stationId), topics.cmdWildcard(f.stationId)], { qos: 1 });
    ids.push(...await ob.sealN(1, 1_000));
    up.syncNow();
    await waitFor(() => ob.acked() === ids.length, 30_000, 'one more acknowledged');
    expect(overheard).toEqual([]);
    const before = (hq.db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    await other.publishAsync(topics.events(f.stationId), JSON.stringify({ v: 1, id: 'forged-1', kind: 'tamper', at: Date.now() }), { qos: 1 }).catch(() => undefined);
    // The broker decided on the forged message before it answered; a genuine event the station sends
    // after that reaches headquarters after anything the broker let through: no sleep needed.
    await up.publishEvent('device-lost', { device: 'camera', detail: 'tls-acl test' });
    await waitFor(() => (hq.db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n > before, 30_000, 'the genuine event');
    expect((hq.db.prepare('SELECT kind FROM events WHERE station_id = ? ORDER BY received_at DESC LIMIT 1').get(f.stationId) as { kind: string }).kind).toBe('device-lost');
    expect((hq.db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n).toBe(before + 1);
    expect(hq.db.prepare(`SELECT 1 FROM events WHERE id = 'forged-1'`).get()).toBeUndefined();
    await other.endAsync();
    // a client without a certificate is refused at the TLS layer
    // (the broker's certificate-required alert, not any failure such as a timeout)
    await expect(mqtt.connectAsync(url, { protocolVersion: 5, ca: readFileSync(join(pki, 'ca.crt')), reconnectPeriod: 0, connectTimeout: 5_000 })).rejects.toMatchObject({ code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
    await up.stop();
    await hq.stop();
    ob.close();
  });
});
