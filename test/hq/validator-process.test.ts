/**
 * Keys by duty (#13 item 2), as deployed: `hq validator` is its own process with the
 * record keys in its own data directory; `hq run` (compiled, its own process, a real
 * Mosquitto) has only the receipt key and hq-public.json — no record key, no ops key —
 * and gets every verdict over the validator's Unix socket. A validator that is down
 * means held receipts (validator-unavailable: the station keeps its records) and the
 * alarm; when it is back, the station's resends are stored once each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { ROOT } from '../helpers/cli';
import { hqInProcess } from '../helpers/hq-inprocess';
import { makeFixture, openOutbox, waitFor, type Fixture, type TestOutbox } from '../uplink/helpers';
import { Uplink } from '../../sync/uplink';
import { HqStore, openHqDb } from '../../sync/hq/store';
import { HQ_DUTY_FILES, HQ_PUBLIC_FILE } from '../../sync/wire/keys';

const HQ_JS = join(ROOT, 'dist', 'sync', 'hq', 'main.js');

interface Proc { p: ChildProcess; out: () => string; exited: Promise<number | null> }

function start(args: string[]): Proc {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HQ_')));
  const p = spawn(process.execPath, [HQ_JS, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  p.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  return { p, out: () => out, exited };
}

describe('hq run with the record validator in its own process', () => {
  let broker: Mosquitto;
  let f: Fixture;
  let ingestDir: string;
  let validatorDir: string;
  let socket: string;
  let ingest: Proc | undefined;
  let validator: Proc | undefined;
  let ob: TestOutbox | undefined;
  let up: Uplink | undefined;

  beforeAll(async () => {
    broker = await startMosquitto();
    f = await makeFixture('st-val-01');
    // f.hqDir/keys is where `hq init` ran (key custody): every duty's file. Each process gets only its own.
    ingestDir = join(f.root, 'hq-ingest');
    validatorDir = join(f.root, 'hq-validator');
    mkdirSync(join(ingestDir, 'keys'), { recursive: true, mode: 0o700 });
    mkdirSync(join(validatorDir, 'keys'), { recursive: true, mode: 0o700 });
    copyFileSync(join(f.hqDir, 'keys', HQ_DUTY_FILES.receipt), join(ingestDir, 'keys', HQ_DUTY_FILES.receipt));
    copyFileSync(join(f.hqDir, 'keys', HQ_PUBLIC_FILE), join(ingestDir, 'keys', HQ_PUBLIC_FILE));
    copyFileSync(join(f.hqDir, 'keys', HQ_DUTY_FILES.record), join(validatorDir, 'keys', HQ_DUTY_FILES.record));
    socket = join(f.root, 'validator.sock');
    // two settings files, as on a server: same socket, each process its own data directory
    writeFileSync(join(f.root, 'ingest.yaml'), `dataDir: ${ingestDir}\nbroker:\n  url: ${broker.url}\nvalidator:\n  socket: ${socket}\n`);
    writeFileSync(join(f.root, 'validator.yaml'), `dataDir: ${validatorDir}\nvalidator:\n  socket: ${socket}\n`);
    const reg = await hqInProcess(['register', '--config', join(f.root, 'ingest.yaml'), f.provisionFile]);
    expect(reg.code, reg.err).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await up?.stop();
    ob?.close();
    for (const pr of [ingest, validator]) if (pr && pr.p.exitCode === null && pr.p.signalCode === null) { pr.p.kill('SIGKILL'); await pr.exited; }
    await broker?.dispose();
    f?.cleanup();
  });

  it('refuses to start without a socket or without record keys, naming what to set', async () => {
    writeFileSync(join(f.root, 'nosocket.yaml'), `dataDir: ${validatorDir}\n`);
    const noSock = await hqInProcess(['validator', '--config', join(f.root, 'nosocket.yaml')], { HQ_VALIDATOR_SOCKET: undefined });
    expect(noSock.code).toBe(2);
    expect(noSock.err).toMatch(/validator\.socket/);
    const noKeys = await hqInProcess(['validator', '--config', join(f.root, 'ingest.yaml'), '--socket', join(f.root, 'x.sock')]);
    expect(noKeys.code).toBe(2);
    expect(noKeys.err).toMatch(/no record keys in .*hq-ingest/);
  });

  it('stores through the validator; a validator that is down costs a receipt, not a record; back up, each record stored once', async () => {
    const val = ['validator', '--config', join(f.root, 'validator.yaml')];
    validator = start(val);
    await waitFor(() => /record validator listening/.test(validator!.out()), 60_000, `validator up (${validator.out().slice(-400)})`);
    expect(statSync(socket).mode & 0o777).toBe(0o660);
    ingest = start(['run', '--config', join(f.root, 'ingest.yaml'), '--worker', 'w1']);
    await waitFor(() => /headquarters ingest online/.test(ingest!.out()), 60_000, `ingest online (${ingest.out().slice(-400)})`);
    expect(ingest.out()).toMatch(/holds no record key/);
    expect(ingest.out()).not.toMatch(/record keys are loaded in the ingest process/);
    // what the network-facing process could read: the receipt key and the public identity, nothing else
    expect(readdirSync(join(ingestDir, 'keys')).sort()).toEqual([HQ_DUTY_FILES.receipt, HQ_PUBLIC_FILE].sort());

    ob = await openOutbox(f);
    const first = await ob.sealN(3, 20_000);
    up = new Uplink({ brokerUrl: broker.url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem), hqIdentity: f.hqPublic, dataDir: f.stationDir, receiptTimeoutMs: 1_500 });
    await up.start();
    await waitFor(() => ob!.acked() === first.length, 120_000, 'first records acknowledged');
    const store = new HqStore(openHqDb(join(ingestDir, 'hq.db')));
    try {
      expect(store.recordCount(f.stationId)).toBe(3);

      // the validator dies: the next batch gets no receipt, and ops see why
      validator.p.kill('SIGKILL');
      await validator.exited;
      const more = await ob.sealN(2, 20_000);
      up.syncNow();
      await waitFor(() => store.openAlarms().some((a) => a.kind === 'validator-unavailable' && a.detail.includes(f.stationId)), 120_000, 'validator-unavailable alarm');
      // a held receipt names the reason; the new records are still the station's, never stored
      await waitFor(() => more.every((id) => ob!.states()[id] === 'held'), 120_000, `records held (${JSON.stringify(ob!.states())})`);
      expect(more.every((id) => !['acknowledged', 'released'].includes(ob!.states()[id]!))).toBe(true);
      expect(store.recordCount(f.stationId)).toBe(3);

      // back: the station's resends are opened and stored, once each
      validator = start(val);
      await waitFor(() => ob!.acked() === first.length + more.length, 120_000, 'records acknowledged after the validator is back');
      expect(store.recordCount(f.stationId)).toBe(5);
    } finally {
      store.db.close();
    }
  }, 400_000);
});
