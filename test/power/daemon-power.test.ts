/**
 * The compiled daemon on a battery (#21 item 2), the real sysfs reader over a fake
 * power_supply tree the test writes as the kernel would: below "low" a new
 * session is refused with the message while the one already open is not held
 * back; at "critical" the daemon stops cleanly (exit 0, the vault closed and
 * intact). `station doctor` reports the battery.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { runCli, STATION_JS } from '../helpers/cli';
import { provisionedStation, type StationFixture } from '../helpers/station';
import { OfficerStore } from '../../station/officers/store';
import { FAST_SCRYPT } from '../workflow/helpers';
import { PowerSupplyTree } from '../../drivers/power';
import { readRunState } from '../../station/run-state';

async function api(url: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const r = await fetch(new URL(path, url), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: r.status, body: (await r.json()) as Record<string, any> };
}

describe('the daemon on a battery', () => {
  let broker: Mosquitto;
  let st: StationFixture;
  let tree: PowerSupplyTree;
  let daemon: ChildProcess | null = null;
  let out = '';
  beforeAll(async () => {
    broker = await startMosquitto();
    tree = new PowerSupplyTree({ capacityPct: 80, status: 'discharging', onAc: false });
    st = await provisionedStation({ stationId: 'ST-POWER-1', brokerUrl: broker.url });
    // the config's devices line is a flow map: the power block joins it
    const cfg = readFileSync(st.file, 'utf8').replace(/^devices: \{ (.*) \}$/m, `devices: { $1, power: { enabled: true, root: ${tree.root}, lowPercent: 20, criticalPercent: 5, pollSeconds: 1 } }`);
    writeFileSync(st.file, cfg);
    const officers = new OfficerStore(join(st.dataDir, 'officers.db'), { scrypt: FAST_SCRYPT }).open();
    await officers.add({ id: 'off1', name: 'Officer One', pin: '123456' });
    officers.close();
  });
  afterAll(async () => {
    if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
    await broker?.dispose();
    tree?.dispose();
    if (st) rmSync(st.dir, { recursive: true, force: true });
  });

  /** Waits for `re` in what the daemon printed from `from` on (what came before does not count). */
  const waitOut = async (re: RegExp, what: string, from = 0): Promise<void> => {
    const end = Date.now() + 120_000;
    while (!re.test(out.slice(from))) {
      if (Date.now() > end || (daemon && daemon.exitCode !== null)) throw new Error(`no ${what} in the daemon's output: ${out.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('doctor reports the battery', async () => {
    const r = await runCli(['doctor', '--config', st.file, '--offline', '--json'], { timeoutMs: 60_000 });
    const power = (JSON.parse(r.stdout) as { results: { check: string; status: string; message: string }[] }).results.find((x) => x.check === 'power')!;
    expect(power.status).toBe('ok');
    expect(power.message).toMatch(/^BAT0: 80 %, discharging, on battery/);
  });

  it('low: a new session is refused with the message, the open one is not; critical: a clean stop', async () => {
    daemon = spawn(process.execPath, [STATION_JS, 'run', '--config', st.file], { stdio: ['ignore', 'pipe', 'pipe'] });
    daemon.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    daemon.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    const end = Date.now() + 120_000;
    while (!readRunState(st.dataDir)?.kioskUrl) {
      if (daemon.exitCode !== null || Date.now() > end) throw new Error(`daemon did not start: ${out.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const url = readRunState(st.dataDir)!.kioskUrl!;
    const login = await api(url, '/api/login', null, { officerId: 'off1', pin: '123456' });
    expect(login.status).toBe(200);
    const token = login.body.token as string;

    // a session opened on a good battery
    const open = await api(url, '/api/session/start', token, {});
    expect(open.status).toBe(200);
    expect(existsSync(join(st.dataDir, 'session.marker'))).toBe(true);

    // the battery runs low: the daemon says so, and the open session is not held back
    tree.set({ capacityPct: 12 });
    await waitOut(/battery low \(12 %, threshold 20 %\)/, 'battery-low log line');
    const during = await api(url, '/api/state', token);
    expect(during.body.guard).toEqual({ ok: true });

    // once it is over, no new one starts: refused with the reason in words
    const abort = await api(url, '/api/session/abort', token, {});
    expect(abort.status).toBe(200);
    const refused = await api(url, '/api/session/start', token, {});
    expect(refused.status).toBe(423); // the kiosk API answers a guard refusal 423 Locked
    expect(JSON.stringify(refused.body)).toContain('the battery is at 12 % (below 20 %): no new enrollment until the booth is on power');

    // on power again: sessions start again
    const mark = out.length;
    tree.set({ onAc: true, status: 'charging' });
    await waitOut(/power ok/, 'power ok log line', mark);
    const again = await api(url, '/api/session/start', token, {});
    expect(again.status).toBe(200);
    await api(url, '/api/session/abort', token, {});

    // critical (two readings in a row): the station stops by itself, cleanly
    tree.set({ onAc: false, status: 'discharging', capacityPct: 3 });
    const code = await new Promise<number | null>((r) => daemon!.once('exit', (c) => r(c)));
    expect(out).toMatch(/battery critical: the station stops cleanly now/);
    expect(code).toBe(0);
    // the vault was closed: a fresh connection finds it intact and its audit chain has the alert
    const db = new Database(join(st.dataDir, 'vault', 'vault.db'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const alerts = db.prepare("SELECT data FROM audit WHERE kind = 'alert'").all() as { data: string }[];
    db.close();
    expect(alerts.map((a) => JSON.parse(a.data) as Record<string, unknown>)).toContainEqual({ device: 'power', state: 'critical', detail: 'battery at 3 %' });
    expect(readRunState(st.dataDir)).toBeNull();
  }, 300_000);
});
