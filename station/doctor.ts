/**
 * `station doctor`: every check a technician needs before (or instead of) starting
 * the daemon. Each check reports ok / warn / fail and, when not ok, what to do.
 * Device checks open the device and ask it to identify itself.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadConfig, type Config } from '../config';
import { checkConsent, checkDataDir, checkDevicePaths, freeBytes } from './preflight';
import { probeDevices } from './devices';
import { checkBrokerCertificate, checkBrokerWithProbe, checkClientCertificate } from './doctor-tls';
import { loadHqIdentityChecked } from './keys';
import { createPower, powerLevel } from '../drivers/power';

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

export interface DoctorOptions {
  configPath?: string;
  skipBroker?: boolean;
  deviceTimeoutMs?: number;
  /** How long the broker checks wait for an answer (default 5 s). */
  brokerTimeoutMs?: number;
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
    results.push({ check: 'headquarters key', status: 'fail', message: (e as Error).message, hint: (e as { hint?: string }).hint ?? `Bring hq-public.json (from \`hq init\`) and run \`station provision --hq-public FILE\`: it installs the file at ${config.headquarters.publicKeyFile}.` });
  }

  results.push(checkPower(config));

  for (const p of checkDevicePaths(config)) results.push({ check: p.key, status: 'fail', message: p.message, hint: p.hint });
  const consent = checkConsent(config);
  results.push(consent.length ? { check: 'consent', status: 'fail', message: consent[0]!.message, hint: consent[0]!.hint } : { check: 'consent', status: 'ok', message: `consent text version ${config.consent!.version} (${Object.keys(config.consent!.text).join(', ')})` });
  results.push(...(await probeDevices(config, opts.deviceTimeoutMs ?? 8000)));

  const client = checkClientCertificate(config);
  if (client) results.push(client);
  if (!opts.skipBroker) {
    const timeoutMs = opts.brokerTimeoutMs ?? 5000;
    const server = await checkBrokerCertificate(config, Date.now(), timeoutMs);
    if (server) results.push(server);
    if (server?.status === 'fail') results.push({ check: 'broker', status: 'skip', message: 'not tried: the broker\'s certificate is not accepted (see "broker certificate")' });
    else results.push(await checkBrokerWithProbe(config, timeoutMs));
  }
  return results;
}

/** The battery, read once, judged with the configured thresholds. */
export function checkPower(config: Config): CheckResult {
  const pc = config.devices.power;
  if (!pc.enabled) return { check: 'power', status: 'skip', message: 'not watched (devices.power.enabled: false: the booth is taken to be on mains)' };
  const t = { lowPercent: pc.lowPercent, criticalPercent: pc.criticalPercent };
  try {
    const { monitor, sim } = createPower({ simulated: pc.simulated, root: pc.root, ...(pc.battery ? { battery: pc.battery } : {}) });
    let r;
    try { r = monitor.read(); } finally { sim?.dispose(); }
    const level = powerLevel(r, t);
    const what = `${r.battery ?? 'no battery'}: ${r.capacityPct ?? '?'} %, ${r.status}${r.onAc === null ? '' : r.onAc ? ', on external power' : ', on battery'}${r.voltageV !== null ? `, ${r.voltageV.toFixed(2)} V` : ''}`;
    const nonsense = r.problems.length ? ` (read as unknown: ${r.problems.join('; ')})` : '';
    if (level === 'ok') return { check: 'power', status: r.problems.length ? 'warn' : 'ok', message: `${what}${nonsense}`, ...(r.problems.length ? { hint: 'The power supply driver reports values that make no sense; check the UPS HAT / battery driver.' } : {}) };
    if (level === 'low') return { check: 'power', status: 'warn', message: `${what}: below ${pc.lowPercent} %, new enrollments would be refused`, hint: 'Plug the booth into mains or a charged power bank.' };
    if (level === 'critical') return { check: 'power', status: 'fail', message: `${what}: at or below ${pc.criticalPercent} %, the station would stop`, hint: 'Charge the battery before the booth goes out.' };
    return { check: 'power', status: 'warn', message: `${what}: the level cannot be told${nonsense}`, hint: `Check devices.power.root (${pc.root}) and devices.power.battery; \`ls ${pc.root}\` lists the supplies.` };
  } catch (e) {
    return { check: 'power', status: 'fail', message: (e as Error).message, hint: `Check devices.power.root (${pc.root}) and devices.power.battery, or set devices.power.enabled: false on a booth on mains.` };
  }
}

export function formatResults(results: CheckResult[]): string {
  const mark: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };
  return results
    .map((r) => `[${mark[r.status]}] ${r.check}: ${r.message}${r.hint && r.status !== 'ok' ? `\n       → ${r.hint}` : ''}`)
    .join('\n');
}
