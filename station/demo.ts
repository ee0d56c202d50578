/**
 * `station demo` (the README's first command): the whole system on one machine
 * with no hardware — every device simulated (the fingerprint simulator speaks the
 * real protocol on a pseudo-terminal), an embedded MQTT broker, and the
 * headquarters ingest in the same process. Prints the kiosk URL; a person can
 * enroll someone and watch headquarters store the sealed record.
 */
import { SAMPLE_CONSENT } from '../config/consent-sample';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { validateConfig } from '../config';
import { generateHqKeys, writeHqKeys, HQ_PUBLIC_FILE } from '../sync/wire/keys';
import { startEmbeddedBroker } from '../sync/broker';
import { startHq, type StoredRecordEvent } from '../sync/hq/ingest';
import { createLogger, type Logger } from './log';
import { provision } from './provision';
import { OfficerStore } from './officers/store';
import { runDaemon } from './daemon';
import { UsageError } from '../drivers/common/errors';
import { existsSync } from 'node:fs';
import { DemoFaults } from './demo-faults';
import { DEMO_DASHBOARD_ACCOUNTS, startDemoDashboard, type DemoDashboard } from './demo-dashboard';

export const DEMO_OFFICER = { id: 'demo', name: 'Demo Officer', pin: '123456' };
/** A second officer, so that trainees can rehearse co-signing exceptions and overrides. */
export const DEMO_SECOND_OFFICER = { id: 'demo2', name: 'Demo Second Officer', pin: '654321' };
export const DEMO_STATION = 'DEMO-0001';

async function portFree(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = createServer();
    s.once('error', () => r(false));
    s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
  });
}

function parsePort(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new UsageError(`${name} must be a port number 0–65535, got "${v}"`);
  return Number(v);
}

export interface DemoOptions {
  kioskPort?: string;
  brokerPort?: string;
  dataDir?: string;
  debug?: boolean;
  logger?: Logger;
  /** Stop the demo when this resolves (tests); otherwise SIGINT/SIGTERM. */
  until?: Promise<void>;
  onReady?: (info: { kioskUrl: string; brokerUrl: string; dataDir: string }) => void;
  /** `--faults`: the kiosk gets a trainer panel to make the scanner, camera or card fail and the broker vanish. */
  faults?: boolean;
}

export async function runDemo(o: DemoOptions): Promise<number> {
  const log = o.logger ?? createLogger({ level: o.debug ? 'debug' : 'info' });
  let kioskPort = parsePort('--port', o.kioskPort);
  const brokerPort = parsePort('--broker-port', o.brokerPort);
  if (kioskPort === undefined) kioskPort = (await portFree(8080)) ? 8080 : 0;

  const temp = o.dataDir === undefined;
  const root = o.dataDir ? resolve(o.dataDir) : mkdtempSync(join(tmpdir(), 'enroll-demo-'));
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const hqDir = join(root, 'hq');
  const hqKeys = join(hqDir, 'keys');
  if (!existsSync(join(hqKeys, HQ_PUBLIC_FILE))) writeHqKeys(hqKeys, await generateHqKeys('demo headquarters'));

  let broker = await startEmbeddedBroker({ port: brokerPort ?? 0 });
  log.info({ broker: broker.url }, 'demo: embedded MQTT broker listening');
  const brokerUrl = broker.url;
  let brokerUp = true;
  const faults = o.faults ? new DemoFaults(log.child({ component: 'demo-faults' })) : undefined;
  // the broker vanishing (the station's and headquarters' connections drop) and coming back on the same port
  faults?.register('broker', async (on) => {
    if (on && brokerUp) { brokerUp = false; await broker.stop(); }
    else if (!on && !brokerUp) { broker = await startEmbeddedBroker({ port: broker.port }); brokerUp = true; }
  });

  const { config } = validateConfig(
    {
      version: 1,
      station: { id: DEMO_STATION, unit: { code: '00004', name: 'Phường Demo', district: 'Quận Demo', dailyQuota: 40 } },
      consent: SAMPLE_CONSENT,
      dataDir: join(root, 'station'),
      log: { level: o.debug ? 'debug' : 'info' },
      kiosk: { port: kioskPort, language: 'vi', idleLogoutSeconds: 900 },
      devices: {
        fingerprint: { simulated: true, model: 'r307', positions: [2, 7] },
        camera: { simulated: true },
        card: { simulated: true },
        gpio: { simulated: true },
      },
      // the demo's own broker, on loopback in this process: no TLS (the daemon logs that at start)
      headquarters: { brokerUrl: broker.url, allowInsecureBroker: true, publicKeyFile: join(hqKeys, HQ_PUBLIC_FILE), healthIntervalSeconds: 30 },
      vault: { reserveMb: 64 },
    },
    'demo configuration',
    { env: {} },
  );

  const prov = provision(config);
  const officers = new OfficerStore(join(config.dataDir, 'officers.db')).open();
  for (const o of [DEMO_OFFICER, DEMO_SECOND_OFFICER]) if (!officers.list().some((x: { id: string }) => x.id === o.id)) await officers.add(o);
  officers.close();

  const hq = await startHq({
    brokerUrl: broker.url,
    dataDir: hqDir,
    keysDir: hqKeys,
    protocolVersion: 4,
    shareGroup: false,
    logger: log.child({ component: 'hq' }),
  });
  // Only the demo relaxes keys by duty (#13 item 2), and says so.
  log.warn({ hq: true, keysDir: hqKeys }, 'demo: the embedded headquarters opens records in this process, with its record, receipt and ops keys in one directory; production runs `hq validator` as its own user and `hq run` holds only the receipt key (docs/mqtt-api.md, "Keys by duty")');
  hq.store.registerStation({ stationId: config.station.id, unit: config.station.unit.code, dailyQuota: config.station.unit.dailyQuota, publicKey: prov.identity.publicKeyPem });
  hq.events.on('record', (e: StoredRecordEvent) => {
    log.info({ hq: true, station: e.stationId, recordId: e.recordId, status: e.status, bytes: e.size }, `headquarters ${e.status} record ${e.recordId} from ${e.stationId}`);
  });
  let dashboard: DemoDashboard | null = null;
  try {
    dashboard = await startDemoDashboard({
      hqDir, keysDir: hqKeys, store: hq.store, brokerUrl: broker.url, port: (await portFree(8780)) ? 8780 : 0,
      unit: { code: config.station.unit.code, name: config.station.unit.name ?? config.station.unit.code, district: config.station.unit.district ?? 'Quận Demo' },
      logger: log.child({ component: 'hq-dashboard' }),
    });
  } catch (e) {
    log.error({ err: (e as Error).message }, 'demo: the ops dashboard could not start; the booth runs without it');
  }

  try {
    return await runDaemon({
      config,
      logger: log,
      until: o.until,
      overrides: { uplink: { protocolVersion: 4, receiptTimeoutMs: 5000, reconnectBaseMs: 500, reconnectMaxMs: 5000 }, ...(faults ? { faults } : {}) },
      onReady: ({ kioskUrl }) => {
        process.stdout.write(
          `\n  Enrollment Station demo is running.\n` +
            `  Kiosk:        ${kioskUrl}\n` +
            `  Officer:      ${DEMO_OFFICER.id}   PIN: ${DEMO_OFFICER.pin}\n` +
            `  2nd officer:  ${DEMO_SECOND_OFFICER.id}  PIN: ${DEMO_SECOND_OFFICER.pin}   (co-signs exceptions and overrides)\n` +
            `  Broker:       ${brokerUrl} (embedded)   Headquarters: in this process (${hqDir})\n` +
            (dashboard ? `  Dashboard:    ${dashboard.url}   ${DEMO_DASHBOARD_ACCOUNTS.map((a) => `${a.name} / ${a.password} (${a.role})`).join(', ')}\n` : '') +
            (faults ? `  Trainer:      the wrench in the kiosk's header makes the scanner, camera or card fail and the broker vanish\n` : '') +
            `  Data:         ${root}${temp ? ' (temporary, removed on exit)' : ''}\n` +
            `  Stop with Ctrl+C.\n\n`,
        );
        o.onReady?.({ kioskUrl, brokerUrl, dataDir: root });
      },
    });
  } finally {
    await dashboard?.close().catch(() => undefined);
    await hq.stop().catch(() => undefined);
    if (brokerUp) await broker.stop().catch(() => undefined);
    if (temp) rmSync(root, { recursive: true, force: true });
  }
}
