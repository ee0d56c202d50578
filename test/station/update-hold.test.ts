/**
 * The updater's hold (#21 item 4) on the compiled daemon: `station update hold` asked mid-session
 * answers 75 with the reason, confirmed by the daemon for its own nonce, and from then on no new
 * session starts while the open one keeps its guard (it can still be sealed); `--wait` returns 0
 * only after that session ends; `station update release` lets sessions start again. A hold from
 * another boot is removed by the daemon and does not block. Without a daemon, a hold with no session
 * open is granted at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { runCli, STATION_JS } from '../helpers/cli';
import { provisionedStation, type StationFixture } from '../helpers/station';
import { OfficerStore } from '../../station/officers/store';
import { FAST_SCRYPT } from '../workflow/helpers';
import { readRunState } from '../../station/run-state';
import { holdPath, readHoldState } from '../../station/update';

async function api(url: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const r = await fetch(new URL(path, url), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: r.status, body: (await r.json()) as Record<string, any> };
}

async function until(cond: () => boolean, what: string, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('update hold', () => {
  let broker: Mosquitto;
  let st: StationFixture;
  let daemon: ChildProcess | null = null;
  let out = '';
  beforeAll(async () => {
    broker = await startMosquitto();
    st = await provisionedStation({ stationId: 'ST-HOLD-1', brokerUrl: broker.url });
    const officers = new OfficerStore(join(st.dataDir, 'officers.db'), { scrypt: FAST_SCRYPT }).open();
    await officers.add({ id: 'off1', name: 'Officer One', pin: '123456' });
    officers.close();
  }, 120_000);
  afterAll(async () => {
    if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
    await broker?.dispose();
    if (st) rmSync(st.dir, { recursive: true, force: true });
  });

  it('without a daemon and no session: granted at once; release removes it', async () => {
    const r = await runCli(['update', 'hold', '--config', st.file, '--json', '--by', 'test'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, held: true, daemon: false });
    expect(existsSync(holdPath(st.dataDir))).toBe(true);
    const rel = await runCli(['update', 'release', '--config', st.file], { timeoutMs: 60_000 });
    expect(rel.code).toBe(0);
    expect(existsSync(holdPath(st.dataDir))).toBe(false);
  }, 120_000);

  it('mid-session: 75 with the reason, no new session while held, the open one unaffected; --wait returns when it ends', async () => {
    // a hold left from an earlier boot: the daemon removes it and it blocks nothing
    writeFileSync(holdPath(st.dataDir), JSON.stringify({ v: 1, nonce: 'f'.repeat(32), by: 'old updater', at: 1, until: Date.now() + 3_600_000, bootId: 'another-boot' }));
    daemon = spawn(process.execPath, [STATION_JS, 'run', '--config', st.file], { stdio: ['ignore', 'pipe', 'pipe'] });
    daemon.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    daemon.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    await until(() => !!readRunState(st.dataDir)?.kioskUrl || daemon!.exitCode !== null, 'daemon start');
    expect(daemon.exitCode, out.slice(-3000)).toBeNull();
    // the daemon removes the file and then logs it: wait for the log line (it comes second), then the file is gone
    await until(() => /the update hold by old updater was placed before the last reboot: removed/.test(out), 'stale hold removed (log)');
    expect(existsSync(holdPath(st.dataDir))).toBe(false);
    const url = readRunState(st.dataDir)!.kioskUrl!;
    const token = (await api(url, '/api/login', null, { officerId: 'off1', pin: '123456' })).body.token as string;

    const open = await api(url, '/api/session/start', token, {});
    expect(open.status).toBe(200);

    // the updater asks mid-session: told to wait, and why
    const asked = await runCli(['update', 'hold', '--config', st.file, '--json', '--by', 'rauc'], { timeoutMs: 120_000 });
    expect(asked.code).toBe(75);
    const a = JSON.parse(asked.stdout) as { ok: boolean; held: boolean; nonce: string; sessionOpen: boolean; message: string };
    expect(a).toMatchObject({ ok: false, held: true, daemon: true, sessionOpen: true });
    expect(a.message).toMatch(/^held: no new session can start; an enrollment session is open \(step kind/);
    expect(readHoldState(st.dataDir)).toMatchObject({ nonce: a.nonce, sessionOpen: true });
    // the open session is not held back: its guard stays ok, so it can be confirmed and sealed
    expect((await api(url, '/api/state', token)).body.guard).toEqual({ ok: true });

    // --wait: the daemon confirms this hold with the session open; the updater is still waiting then
    const waiter = spawn(process.execPath, [STATION_JS, 'update', 'hold', '--wait', '3600', '--config', st.file, '--json', '--by', 'rauc'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let wOut = '';
    waiter.stdout!.on('data', (d: Buffer) => { wOut += d.toString(); });
    const waited = new Promise<number | null>((r) => waiter.once('exit', (c) => r(c)));
    await until(() => { const s = readHoldState(st.dataDir); return !!s && s.nonce !== a.nonce && s.sessionOpen; }, 'daemon confirms the waiting hold');
    expect(waiter.exitCode).toBeNull();

    // the officer ends the session: the updater is let through
    expect((await api(url, '/api/session/abort', token, {})).status).toBe(200);
    expect(await waited).toBe(0);
    expect(JSON.parse(wOut)).toMatchObject({ ok: true, held: true, daemon: true });
    expect(JSON.parse(wOut).message).toMatch(/no session is open and none can start/);

    // held: a new session is refused with the reason
    const refused = await api(url, '/api/session/start', token, {});
    expect(refused.status).toBe(423);
    expect(JSON.stringify(refused.body)).toContain('an update is being installed (hold by rauc): no new enrollment until it is finished');
    expect(JSON.stringify(refused.body)).toContain('"reason":"update_pending"');

    // released (the update failed, say): sessions start again
    expect((await runCli(['update', 'release', '--config', st.file], { timeoutMs: 60_000 })).code).toBe(0);
    const again = await api(url, '/api/session/start', token, {});
    expect(again.status).toBe(200);
    await api(url, '/api/session/abort', token, {});
    daemon.kill('SIGTERM');
    expect(await new Promise<number | null>((r) => daemon!.once('exit', (c) => r(c)))).toBe(0);
    expect(readFileSync(join(st.dataDir, 'run', 'version.json'), 'utf8')).toContain('version');
  }, 300_000);
});
