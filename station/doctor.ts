/**
 * `station doctor`: every check a technician needs before (or instead of) starting
 * the daemon. Each check reports ok / warn / fail and, when not ok, what to do.
 * Device checks open the device and ask it to identify itself.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadConfig, type Config } from '../config';
import { checkDataDir, checkDevicePaths, freeBytes } from './preflight';
import { probeDevices } from './devices';
import { brokerConnectOptions } from './broker-options';
import { loadHqIdentityChecked } from './keys';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  check: string;
  status: CheckStatus;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

/** The software's release floor: a clock earlier than this is certainly wrong. */
const CLOCK_FLOOR = Date.parse('2026-11-01T00:00:00Z');

export function checkClock(now = Date.now(), timedatectl = defaultTimedatectl): CheckResult {
  if (now < CLOCK_FLOOR) {
    return {
      check: 'clock',
      status: 'fail',
      message: `the system clock says ${new Date(now).toISOString()}, before this software was released`,
      hint: 'Set the time (`timedatectl set-time`, or connect to a network for NTP); a Raspberry Pi without an RTC loses the time when its battery runs out. Records are time-stamped, and receipts and commands carry expiry times.',
    };
  }
  const synced = timedatectl();
  if (synced === 'yes') return { check: 'clock', status: 'ok', message: `${new Date(now).toISOString()}, synchronised by NTP` };
  if (synced === 'no') {
    return { check: 'clock', status: 'warn', message: `${new Date(now).toISOString()}, not synchronised by NTP`, hint: 'Fine offline for a while; check it against a phone or watch. Headquarters reports the clock offset it sees in health messages.' };
  }
  return { check: 'clock', status: 'warn', message: `${new Date(now).toISOString()}; cannot tell whether it is synchronised (no timedatectl)`, hint: 'Check the time against a phone or watch.' };
}

function defaultTimedatectl(): 'yes' | 'no' | 'unknown' {
  try {
    const out = execFileSync('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: 3000, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return out === 'yes' ? 'yes' : out === 'no' ? 'no' : 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function checkBroker(config: Config, timeoutMs = 5000): Promise<CheckResult> {
  const mqtt = await import('mqtt');
  let opts;
  try {
    opts = brokerConnectOptions(config, `doctor-${config.station.id}-${process.pid}`);
  } catch (e) {
    return { check: 'broker', status: 'fail', message: (e as Error).message, hint: 'Fix the headquarters.* TLS file settings.' };
  }
  return new Promise((resolve) => {
    const client = mqtt.connect(config.headquarters.brokerUrl, { ...opts, reconnectPeriod: 0, connectTimeout: timeoutMs, clean: true });
    const done = (r: CheckResult) => {
      clearTimeout(timer);
      client.end(true);
      resolve(r);
    };
    const timer = setTimeout(() => done({ check: 'broker', status: 'fail', message: `no answer from ${config.headquarters.brokerUrl} within ${timeoutMs} ms`, hint: 'Check the network (mobile data / Wi-Fi), the broker URL and the firewall. The station keeps working offline and uploads later.' }), timeoutMs + 500);
    client.on('connect', () => done({ check: 'broker', status: 'ok', message: `connected to ${config.headquarters.brokerUrl}` }));
    client.on('error', (e: Error & { code?: number | string }) => {
      if (typeof e.code === 'string') {
        // a network-level failure: nothing answered, the name did not resolve, TLS failed
        const tls = /CERT|TLS|SSL|self.signed/i.test(`${e.code} ${e.message}`);
        done({
          check: 'broker',
          status: 'fail',
          message: `cannot reach ${config.headquarters.brokerUrl}: ${e.message}`,
          hint: tls
            ? 'The broker\'s certificate was not accepted: check headquarters.caFile and the clock.'
            : 'Check the network (mobile data / Wi-Fi) and the broker URL; the broker may be down. The station keeps working offline and uploads later.',
        });
        return;
      }
      const code = e.code !== undefined ? ` (MQTT reason code ${e.code})` : '';
      done({ check: 'broker', status: 'fail', message: `${config.headquarters.brokerUrl} refused the connection: ${e.message}${code}`, hint: 'Check headquarters.username/password or the client certificate, and that headquarters registered this station.' });
    });
  });
}

export interface DoctorOptions {
  configPath?: string;
  skipBroker?: boolean;
  deviceTimeoutMs?: number;
}

export async function runDoctor(opts: DoctorOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  let config: Config;
  try {
    const loaded = loadConfig(opts.configPath);
    config = loaded.config;
    results.push({ check: 'config', status: 'ok', message: `${loaded.path} is valid (station ${config.station.id})` });
  } catch (e) {
    results.push({ check: 'config', status: 'fail', message: (e as Error).message, hint: (e as { hint?: string }).hint ?? 'Fix the configuration file.' });
    return results;
  }

  const dd = checkDataDir(config.dataDir);
  if (dd.length) for (const p of dd) results.push({ check: 'data directory', status: 'fail', message: p.message, hint: p.hint });
  else results.push({ check: 'data directory', status: 'ok', message: `${config.dataDir} exists, mode and owner are right` });

  const diskPath = existsSync(config.dataDir) ? config.dataDir : '/';
  const free = freeBytes(diskPath);
  const reserve = config.vault.reserveMb * 1024 * 1024;
  const mb = (n: number) => `${Math.round(n / 1024 / 1024)} MB`;
  if (free <= reserve) results.push({ check: 'free space', status: 'fail', message: `${mb(free)} free on ${diskPath}, below the reserve of ${mb(reserve)}: enrollments would be refused`, hint: 'Upload the backlog (connect to the network) or free space; never delete the vault.' });
  else if (free < reserve * 2) results.push({ check: 'free space', status: 'warn', message: `${mb(free)} free on ${diskPath}, close to the reserve of ${mb(reserve)}`, hint: 'Upload the backlog soon.' });
  else results.push({ check: 'free space', status: 'ok', message: `${mb(free)} free on ${diskPath} (reserve ${mb(reserve)})` });

  results.push(checkClock());

  try {
    const id = loadHqIdentityChecked(config.headquarters.publicKeyFile);
    results.push({ check: 'headquarters key', status: 'ok', message: `${config.headquarters.publicKeyFile} (fingerprint ${id.fingerprint})` });
  } catch (e) {
    results.push({ check: 'headquarters key', status: 'fail', message: (e as Error).message, hint: (e as { hint?: string }).hint ?? 'Install the file from `hq init` and run `station provision --hq-public FILE`.' });
  }

  for (const p of checkDevicePaths(config)) results.push({ check: p.key, status: 'fail', message: p.message, hint: p.hint });
  results.push(...(await probeDevices(config, opts.deviceTimeoutMs ?? 8000)));

  if (!opts.skipBroker) results.push(await checkBroker(config));
  return results;
}

export function formatResults(results: CheckResult[]): string {
  const mark: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };
  return results
    .map((r) => `[${mark[r.status]}] ${r.check}: ${r.message}${r.hint && r.status !== 'ok' ? `\n       → ${r.hint}` : ''}`)
    .join('\n');
}
