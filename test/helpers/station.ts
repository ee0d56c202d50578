/**
 * A provisioned station on disk for tests and benchmarks: fresh headquarters keys,
 * a configuration file (all devices simulated unless `devices` says otherwise) and
 * `station provision` run through the compiled CLI, exactly as a technician does.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateHqKeys, writeHqKeys } from '../../sync/wire/keys';
import { STATION_JS } from './cli';
import { SAMPLE_CONSENT } from '../../config/consent-sample';

/** The sample consent text as one YAML (JSON) line, for test configuration files. */
export const CONSENT_YAML = `consent: ${JSON.stringify(SAMPLE_CONSENT)}`;

export const ALL_SIMULATED = '{ fingerprint: { simulated: true }, camera: { simulated: true }, card: { simulated: true }, gpio: { simulated: true } }';

export interface StationFixture {
  dir: string;
  /** The configuration file. */
  file: string;
  dataDir: string;
  hqDir: string;
}

export async function provisionedStation(o: { stationId: string; brokerUrl: string; devices?: string; extra?: string[]; logLevel?: string; unit?: string }): Promise<StationFixture> {
  const dir = mkdtempSync(join(tmpdir(), `${o.stationId.toLowerCase()}-`));
  const hqDir = join(dir, 'hq');
  writeHqKeys(hqDir, await generateHqKeys('test'));
  const file = join(dir, 'config.yaml');
  const dataDir = join(dir, 'data');
  writeFileSync(
    file,
    [
      'version: 1',
      `station: { id: ${o.stationId}, unit: { code: "${o.unit ?? '00007'}" } }`,
      `dataDir: ${dataDir}`,
      CONSENT_YAML,
      `log: { level: ${o.logLevel ?? 'info'} }`,
      'kiosk: { port: 0 }',
      `devices: ${o.devices ?? ALL_SIMULATED}`,
      // the test brokers listen on loopback without TLS
      `headquarters: { brokerUrl: "${o.brokerUrl}", allowInsecureBroker: ${!/^(mqtts|wss):/.test(o.brokerUrl)}, publicKeyFile: ${join(hqDir, 'hq-public.json')} }`,
      ...(o.extra ?? []),
      '',
    ].join('\n'),
  );
  execFileSync(process.execPath, [STATION_JS, 'provision', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { dir, file, dataDir, hqDir };
}
