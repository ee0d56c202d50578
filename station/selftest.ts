/**
 * `station selftest`: is this booth, as it runs now, fit to enroll? Written to be the
 * "mark good" step of an A/B updater (docs/updates.md): exit 0 only when every part
 * passes, each broken part reported on its own with what to do.
 *
 *   config      the configuration loads and validates
 *   devices     every configured device answers: as the running daemon sees it
 *               (run/state.json), else opened and asked here (the daemon holds the
 *               ports while it runs)
 *   vault       the vault file opens and passes SQLite's integrity check
 *   outbox      every record not yet acknowledged is readable and matches its hash
 *   keys        the station signing key loads
 *   hq identity headquarters' public identity loads
 *   kiosk       the daemon's kiosk answers with its page and /api/hello
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { loadConfig, type Config } from '../config';
import { vaultPath } from './vault';
import { probeDevices } from './devices';
import { checkCaptureDevices } from './preflight';
import { loadHqIdentityChecked, resolveHqIdentityFile } from './keys';
import { loadStationSigningKey } from '../sync/wire/keys';
import { readRunState, type RunState } from './run-state';
import type { CheckResult } from './doctor';

export interface SelftestOptions {
  configPath?: string;
  deviceTimeoutMs?: number;
  kioskTimeoutMs?: number;
}

export async function runSelftest(opts: SelftestOptions = {}): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  let config: Config;
  try {
    const loaded = loadConfig(opts.configPath);
    config = loaded.config;
    out.push({ check: 'config', status: 'ok', message: `${loaded.path} is valid (station ${config.station.id})` });
  } catch (e) {
    out.push({ check: 'config', status: 'fail', message: (e as Error).message, hint: (e as { hint?: string }).hint ?? 'Fix the configuration file.' });
    return out;
  }
  const run = readRunState(config.dataDir);
  out.push(...(await checkDevices(config, run, opts.deviceTimeoutMs ?? 8000)));
  out.push(...checkVaultAndOutbox(config));
  out.push(checkStationKey(config));
  out.push(checkHqIdentity(config));
  out.push(await checkKiosk(run, opts.kioskTimeoutMs ?? 5000));
  return out;
}

async function checkDevices(config: Config, run: RunState | null, timeoutMs: number): Promise<CheckResult[]> {
  if (run) {
    // The daemon holds the devices: its view is the one that counts (it opened them and watches them).
    const configured = (['fingerprint', 'camera', 'card', 'gpio'] as const).filter((k) => k in config.devices);
    return configured.map((k): CheckResult => {
      const d = run.devices.find((x) => x.device === k);
      if (!d) return { check: `device ${k}`, status: 'fail', message: `the running daemon (pid ${run.pid}) reports nothing for the ${k}`, hint: 'Look at `journalctl -u enroll-station`: the device did not start.' };
      if (d.state === 'ready' || d.state === 'simulated') return { check: `device ${k}`, status: 'ok', message: `${d.state}${d.detail ? ` (${d.detail})` : ''}, as the running daemon sees it` };
      return { check: `device ${k}`, status: 'fail', message: `${d.state}${d.detail ? `: ${d.detail}` : ''} (as the running daemon sees it)`, hint: 'Check the cable and `station doctor`; the daemon reopens a device that comes back.' };
    });
  }
  const res: CheckResult[] = [];
  for (const p of checkCaptureDevices(config)) res.push({ check: `device ${p.device ?? p.key}`, status: 'fail', message: p.message, hint: p.hint });
  const failed = new Set(res.map((r) => r.check));
  for (const r of await probeDevices(config, timeoutMs)) {
    const name = `device ${r.check}`;
    if (failed.has(name)) continue;
    // a simulated device is what the configuration asks for (demo, bench): it answers by construction
    res.push({ ...r, check: name, status: r.status === 'skip' ? 'ok' : r.status === 'warn' ? 'ok' : r.status });
  }
  return res;
}

function checkVaultAndOutbox(config: Config): CheckResult[] {
  const path = vaultPath(config.dataDir);
  if (!existsSync(path)) {
    return [
      { check: 'vault', status: 'fail', message: `no vault at ${path}`, hint: 'Start the daemon once (`station run`) after `station provision`; if the vault was there, restore the data partition — never create a new one over a lost backlog.' },
      { check: 'outbox', status: 'skip', message: 'no vault' },
    ];
  }
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (e) {
    return [{ check: 'vault', status: 'fail', message: `${path} does not open: ${(e as Error).message}`, hint: 'Do not delete it: keep the file for support (it holds records not yet uploaded).' }, { check: 'outbox', status: 'skip', message: 'the vault does not open' }];
  }
  try {
    let problems: string[];
    try {
      problems = (db.pragma('integrity_check(20)') as { integrity_check: string }[]).map((r) => r.integrity_check).filter((x) => x !== 'ok');
    } catch (e) {
      problems = [(e as Error).message];
    }
    const res: CheckResult[] = [];
    if (problems.length) {
      res.push({ check: 'vault', status: 'fail', message: `${path} fails SQLite's integrity check: ${problems.slice(0, 3).join('; ')}`, hint: 'Do not delete it: keep the file for support; the booth must not enroll onto a damaged vault.' });
      res.push({ check: 'outbox', status: 'skip', message: 'the vault is damaged' });
      return res;
    }
    res.push({ check: 'vault', status: 'ok', message: `${path} opens and passes the integrity check` });
    try {
      const hasEnvelopes = (db.prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'envelopes'`).get() as { n: number }).n > 0;
      const q = hasEnvelopes
        ? `SELECT r.record_id AS id, r.sha256 AS sha, e.envelope AS env FROM records r LEFT JOIN envelopes e ON e.seq = r.seq WHERE r.state IN ('sealed','in_flight','held','rejected') AND r.tampered_at IS NULL`
        : `SELECT record_id AS id, sha256 AS sha, envelope AS env FROM records WHERE state IN ('sealed','in_flight','rejected') AND tampered_at IS NULL`;
      let n = 0;
      const bad: string[] = [];
      for (const r of db.prepare(q).iterate() as Iterable<{ id: string; sha: string; env: Buffer | null }>) {
        n++;
        if (!r.env) bad.push(`${r.id}: no ciphertext`);
        else if (createHash('sha256').update(r.env).digest('hex') !== r.sha) bad.push(`${r.id}: bytes differ from their hash`);
        if (bad.length >= 5) break;
      }
      if (bad.length) res.push({ check: 'outbox', status: 'fail', message: `records waiting for headquarters are not intact: ${bad.join('; ')}`, hint: 'Keep the vault for support; the daemon marks such records tampered and reports them.' });
      else res.push({ check: 'outbox', status: 'ok', message: `${n} record(s) waiting for headquarters, all readable and matching their hashes` });
    } catch (e) {
      res.push({ check: 'outbox', status: 'fail', message: `the outbox cannot be read: ${(e as Error).message}`, hint: 'Keep the vault for support.' });
    }
    return res;
  } finally {
    db.close();
  }
}

function checkStationKey(config: Config): CheckResult {
  try {
    const k = loadStationSigningKey(config.dataDir);
    return { check: 'station key', status: 'ok', message: `loads (fingerprint ${k.fingerprint})` };
  } catch (e) {
    return { check: 'station key', status: 'fail', message: (e as Error).message, hint: (e as { hint?: string }).hint ?? 'Restore the data partition; a new key (`station provision --rotate`) must be registered at headquarters again.' };
  }
}

function checkHqIdentity(config: Config): CheckResult {
  const f = resolveHqIdentityFile(config.headquarters.publicKeyFile, config.dataDir);
  try {
    const id = loadHqIdentityChecked(f);
    return { check: 'hq identity', status: 'ok', message: `${f} (fingerprint ${id.fingerprint})` };
  } catch (e) {
    return { check: 'hq identity', status: 'fail', message: (e as Error).message, hint: (e as { hint?: string }).hint ?? `Install hq-public.json at ${config.headquarters.publicKeyFile} (\`station provision --hq-public FILE\`).` };
  }
}

async function checkKiosk(run: RunState | null, timeoutMs: number): Promise<CheckResult> {
  if (!run) return { check: 'kiosk', status: 'fail', message: 'the daemon is not running (no live run/state.json), so nothing serves the kiosk', hint: 'systemctl status enroll-station; the selftest is meant to run after the daemon started.' };
  if (!run.kioskUrl) return { check: 'kiosk', status: 'fail', message: `the daemon (pid ${run.pid}) has not started its kiosk`, hint: 'Look at `journalctl -u enroll-station`.' };
  const get = async (path: string): Promise<Response> => fetch(new URL(path, run.kioskUrl!), { signal: AbortSignal.timeout(timeoutMs) });
  try {
    const page = await get('/');
    const html = await page.text();
    if (page.status !== 200 || !/<html/i.test(html)) return { check: 'kiosk', status: 'fail', message: `${run.kioskUrl} answered ${page.status} without the kiosk page`, hint: 'The kiosk files may be missing from this release.' };
    const hello = await get('/api/hello');
    const body = (await hello.json().catch(() => null)) as { language?: unknown } | null;
    if (hello.status !== 200 || typeof body?.language !== 'string') return { check: 'kiosk', status: 'fail', message: `${run.kioskUrl}api/hello answered ${hello.status} without the kiosk's greeting`, hint: 'Look at `journalctl -u enroll-station`.' };
    return { check: 'kiosk', status: 'ok', message: `${run.kioskUrl} serves the page and the API` };
  } catch (e) {
    return { check: 'kiosk', status: 'fail', message: `${run.kioskUrl} does not answer: ${(e as Error).message}`, hint: 'Look at `journalctl -u enroll-station`.' };
  }
}
