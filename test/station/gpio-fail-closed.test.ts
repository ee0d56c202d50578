/**
 * GPIO fails closed (#14 item 4), through the compiled CLI on this machine, which has
 * no GPIO: a booth configured for real GPIO (devices.gpio.simulated: false, the
 * default) does not quietly simulate its tamper switch. The daemon locks the station,
 * tells headquarters (real Mosquitto) and refuses to start with GPIO_UNAVAILABLE;
 * `station doctor` and `station gpio test` decide the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { runCli, hasStackTrace } from '../helpers/cli';
import { provisionedStation } from '../helpers/station';

const REAL_GPIO = '{ fingerprint: { simulated: true }, camera: { simulated: true }, card: { simulated: true }, gpio: { simulated: false } }';

describe('a booth configured for real GPIO on a machine without it', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    // the premise: this test machine has no sysfs GPIO (CI and the developers' machines are containers)
    expect(existsSync('/sys/class/gpio/export'), 'this test needs a machine without sysfs GPIO').toBe(false);
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.dispose();
  });

  it('the daemon locks the station, reports the unwatched tamper switch to headquarters and refuses to start with GPIO_UNAVAILABLE', async () => {
    const { dataDir, file } = await provisionedStation({ stationId: 'ST-GPIO-1', brokerUrl: broker.url, devices: REAL_GPIO });
    const events: Record<string, unknown>[] = [];
    const watcher = mqtt.connect(broker.url, { protocolVersion: 5 });
    watcher.on('message', (_t, p) => events.push(JSON.parse(p.toString()) as Record<string, unknown>));
    await new Promise<void>((r) => watcher.on('connect', () => watcher.subscribe('enroll/v1/st/ST-GPIO-1/events', { qos: 1 }, () => r())));
    try {
      const r = await runCli(['run', '--config', file], { timeoutMs: 120_000 });
      const out = r.stdout + r.stderr;
      expect(r.code, out).toBe(1);
      expect(out).toContain('GPIO_UNAVAILABLE');
      expect(r.stderr).toMatch(/error: GPIO is not available on this machine: \/sys\/class\/gpio\/export does not exist/);
      expect(r.stderr).toMatch(/→ .*devices\.gpio\.simulated: true/);
      expect(hasStackTrace(r.stderr)).toBe(false);
      expect(out).not.toMatch(/station ready/);
      // locked, persistently, by the tamper rule
      const state = JSON.parse(readFileSync(join(dataDir, 'state.json'), 'utf8')) as { lock: { by: string; reason: string } | null };
      expect(state.lock).toMatchObject({ by: 'tamper' });
      expect(state.lock!.reason).toMatch(/^tamper switch not watched \(GPIO_UNAVAILABLE\)/);
      // audited (the chain goes to headquarters with the next upload)
      const db = new Database(join(dataDir, 'vault', 'vault.db'), { readonly: true });
      const audit = db.prepare("SELECT kind, data FROM audit WHERE kind = 'tamper'").all() as { kind: string; data: string }[];
      db.close();
      expect(audit.map((a) => JSON.parse(a.data) as Record<string, unknown>)).toEqual([{ event: 'tamper.unwatched', code: 'GPIO_UNAVAILABLE', locked: true }]);
      // headquarters was told before the daemon stopped (QoS 1: the daemon waited for the broker's PUBACK)
      const tamper = events.filter((e) => e.kind === 'tamper');
      expect(tamper).toHaveLength(1);
      expect(tamper[0]!.data).toMatchObject({ state: 'unwatched', code: 'GPIO_UNAVAILABLE', locked: true });
      // a second start is refused the same way and the lock stays
      const again = await runCli(['run', '--config', file], { timeoutMs: 120_000 });
      expect(again.code).toBe(1);
      expect(again.stdout + again.stderr).toContain('GPIO_UNAVAILABLE');
    } finally {
      watcher.end(true);
    }
  }, 300_000); // two daemon starts through the compiled CLI: generous for a loaded 2-core machine

  it('station doctor and station gpio test decide the same way', async () => {
    const { file } = await provisionedStation({ stationId: 'ST-GPIO-2', brokerUrl: 'mqtt://127.0.0.1:9', devices: REAL_GPIO });
    const d = await runCli(['doctor', '--json', '--offline', '--config', file], { timeoutMs: 120_000 });
    expect(d.code).toBe(1);
    const results = (JSON.parse(d.stdout) as { results: { check: string; status: string; message: string; hint?: string }[] }).results;
    const gpio = results.find((x) => x.check === 'gpio')!;
    expect(gpio).toMatchObject({ status: 'fail' });
    expect(gpio.message).toMatch(/GPIO is not available on this machine: \/sys\/class\/gpio\/export does not exist/);
    expect(results.find((x) => x.check === 'tamper')).toMatchObject({ status: 'fail', message: expect.stringMatching(/refuses to start, locks the station/) });

    const t = await runCli(['gpio', 'test', '--step-ms', '0', '--config', file], { timeoutMs: 120_000 });
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/error: GPIO is not available on this machine: \/sys\/class\/gpio\/export does not exist/);
    expect(t.stdout).not.toMatch(/simulator/);
    // without a configuration file as well: the defaults are a real booth's
    const bare = await runCli(['gpio', 'test', '--step-ms', '0'], { timeoutMs: 120_000 });
    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(/GPIO is not available/);
    // the simulator only when asked for
    const sim = await runCli(['gpio', 'test', '--simulated', '--step-ms', '0', '--config', file], { timeoutMs: 120_000 });
    expect(sim.code, sim.stderr).toBe(0);
    expect(sim.stdout).toMatch(/GPIO: simulator/);
  }, 300_000); // five CLI runs
});
