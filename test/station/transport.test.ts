/**
 * Outside the demo the station talks to its broker over TLS (#14 item 6): a plain
 * mqtt:// URL is a configuration error unless allowInsecureBroker is set, and a
 * station started with it says so in its log every time.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { runCli, STATION_JS, hasStackTrace } from '../helpers/cli';
import { provisionedStation } from '../helpers/station';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('broker transport policy', () => {
  it('refuses mqtt:// without allowInsecureBroker (config check and run, exit 2, saying what to do)', async () => {
    const f = await provisionedStation({ stationId: 'ST-TLS-1', brokerUrl: 'mqtt://127.0.0.1:9' });
    dirs.push(f.dir);
    writeFileSync(f.file, readFileSync(f.file, 'utf8').replace('allowInsecureBroker: true, ', ''));
    for (const args of [['config', 'check', '--config', f.file], ['run', '--config', f.file]]) {
      const r = await runCli(args, { timeoutMs: 30_000 });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/headquarters\.brokerUrl: "mqtt:\/\/127\.0\.0\.1:9" has no TLS — use mqtts:\/\/ or wss:\/\//);
      expect(r.stderr).toMatch(/allowInsecureBroker: true/);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
  });

  it('with allowInsecureBroker the daemon starts and warns about it before it is ready', async () => {
    const f = await provisionedStation({ stationId: 'ST-TLS-2', brokerUrl: 'mqtt://127.0.0.1:9' });
    dirs.push(f.dir);
    const child: ChildProcess = spawn(process.execPath, [STATION_JS, 'run', '--config', f.file], { env: { ...process.env, STATION_PRINT_READY: '1', NOTIFY_SOCKET: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    try {
      await expect.poll(() => /^READY/m.test(out), { timeout: 30_000 }).toBe(true);
      const warn = out.split('\n').find((l) => l.includes('allowInsecureBroker is true'));
      expect(warn, out).toBeDefined();
      expect(JSON.parse(warn!)).toMatchObject({ level: 40, brokerUrl: 'mqtt://127.0.0.1:9', tls: false });
      expect(out.indexOf('allowInsecureBroker is true')).toBeLessThan(out.indexOf('READY'));
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
