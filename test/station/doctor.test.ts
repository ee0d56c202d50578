import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { runCli } from '../helpers/cli';
import { provisionedStation } from '../helpers/station';
import { checkClock } from '../../station/doctor';
import { createLogger } from '../../station/log';

interface Check { check: string; status: string; message: string; hint?: string }

const byName = (results: Check[], name: string) => results.find((r) => r.check === name);

describe('station doctor', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.dispose();
  });

  it('all green on a provisioned station with simulated devices and a reachable broker', async () => {
    const { file } = await provisionedStation({ stationId: 'ST-DOC-1', brokerUrl: broker.url, extra: ['vault: { reserveMb: 1 }'] });
    const r = await runCli(['doctor', '--json', '--config', file]);
    const out = JSON.parse(r.stdout) as { ok: boolean; results: Check[] };
    const failed = out.results.filter((x) => x.status === 'fail');
    expect(failed, JSON.stringify(failed)).toEqual([]);
    expect(r.code).toBe(0);
    expect(byName(out.results, 'broker')?.status).toBe('ok');
    expect(byName(out.results, 'headquarters key')?.status).toBe('ok');
    expect(byName(out.results, 'fingerprint')?.status).toBe('skip');
  });

  it('names each failure with what to do, and exits 1', async () => {
    const { dir, file } = await provisionedStation({ stationId: 'ST-DOC-1', brokerUrl: 'mqtt://127.0.0.1:9', devices: '{ fingerprint: { port: /dev/null-scanner }, camera: { simulated: true }, card: { simulated: true }, gpio: { simulated: true } }', extra: ['vault: { reserveMb: 1 }'] });
    rmSync(join(dir, 'hq', 'hq-public.json'));
    chmodSync(join(dir, 'data'), 0o775);
    const r = await runCli(['doctor', '--json', '--config', file], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { ok: boolean; results: Check[] };
    expect(out.ok).toBe(false);
    const dd = byName(out.results, 'data directory')!;
    expect(dd.status).toBe('fail');
    expect(dd.hint).toContain(`chmod 0700 ${join(dir, 'data')}`);
    const hq = byName(out.results, 'headquarters key')!;
    expect(hq.status).toBe('fail');
    expect(hq.message).toContain(join(dir, 'hq', 'hq-public.json'));
    const port = byName(out.results, 'devices.fingerprint.port')!;
    expect(port.message).toContain('/dev/null-scanner does not exist');
    const b = byName(out.results, 'broker')!;
    expect(b.status).toBe('fail');
    expect(b.hint).toMatch(/network|broker/i);
    // the human form says the same
    const human = await runCli(['doctor', '--offline', '--config', file]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/\[FAIL\] data directory: .* mode 0775/);
    expect(human.stdout).toMatch(/→ chmod 0700/);
  });

  it('a bad configuration is exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'doctor-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'version: 1\nstation: { id: "x" }\n');
    const r = await runCli(['doctor', '--json', '--config', file]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).results[0]).toMatchObject({ check: 'config', status: 'fail' });
  });

  it('the clock check catches a clock before the release and reports NTP state', () => {
    expect(checkClock(Date.parse('2024-01-01T00:00:00Z'), () => 'yes').status).toBe('fail');
    expect(checkClock(Date.parse('2027-03-01T00:00:00Z'), () => 'yes').status).toBe('ok');
    expect(checkClock(Date.parse('2027-03-01T00:00:00Z'), () => 'no').status).toBe('warn');
  });
});

describe('logging', () => {
  it('redacts secrets and personal or biometric fields at any depth', () => {
    let out = '';
    const sink = new Writable({ write(chunk, _enc, cb) { out += chunk.toString(); cb(); } });
    const log = createLogger({ destination: sink, level: 'info' });
    log.info({ pin: '482913', officer: { id: 'OFF-1', pinHash: 'scrypt$secret' }, details: { fullName: 'Nguyễn Thị Marker' }, portrait: Buffer.from('JPEGMARKER'), config: { headquarters: { password: 'hunter2' } }, recordId: 'r-1' }, 'test');
    expect(out).toContain('"recordId":"r-1"');
    expect(out).toContain('"id":"OFF-1"');
    for (const secret of ['482913', 'scrypt$secret', 'Marker', 'JPEGMARKER', 'hunter2']) expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
  });
});
