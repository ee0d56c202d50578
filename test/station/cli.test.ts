import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../station/cli/main';
import { generateHqKeys, writeHqKeys } from '../../sync/wire/keys';
import { CONSENT_YAML } from '../helpers/station';
import { hasStackTrace, runCli, STATION_JS } from '../helpers/cli';

function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

function tempConfig(extra = ''): { dir: string; file: string; dataDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'station-cli-'));
  const dataDir = join(dir, 'data');
  const file = join(dir, 'config.yaml');
  writeFileSync(file, `version: 1\nstation: { id: ST-TEST-1, unit: { code: "00004", name: "Ward 4" } }\n${CONSENT_YAML}\ndataDir: ${dataDir}\nheadquarters:\n  publicKeyFile: ${join(dir, 'hq-public.json')}\n${extra}`);
  return { dir, file, dataDir };
}

describe('station CLI', () => {
  beforeAll(() => {
    expect(existsSync(STATION_JS), 'run `npm run build` first (npm test does)').toBe(true);
  });

  it('has --help on every command, exiting 0', { timeout: 15 * 60_000 }, async () => {
    const paths = commandPaths(buildProgram());
    for (const required of [['run'], ['demo'], ['config', 'check'], ['config', 'show'], ['provision'], ['doctor'], ['status'], ['fingerprint'], ['card'], ['camera'], ['gpio'], ['officer']]) {
      expect(paths.map((p) => p.join(' '))).toContain(required.join(' '));
    }
    // two at a time (the machine has two cores): all at once made each wait behind dozens of node start-ups
    const results: Awaited<ReturnType<typeof runCli>>[] = [];
    for (let i = 0; i < paths.length; i += 2) results.push(...await Promise.all(paths.slice(i, i + 2).map((p) => runCli([...p, '--help'], { timeoutMs: 120_000 }))));
    results.forEach((r, i) => {
      expect(r.code, `station ${paths[i].join(' ')} --help: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/Usage: station/);
    });
  });

  it('exits 2 on usage errors, with a message and no stack trace', async () => {
    const r = await runCli(['no-such-command']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'no-such-command'/);
    const r2 = await runCli(['status', '--bogus-flag']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/unknown option '--bogus-flag'/);
  });

  it('config check: exit 2 naming the missing file; stack trace only with --debug', async () => {
    const r = await runCli(['config', 'check', '--config', '/nonexistent/station.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config file \/nonexistent\/station\.yaml does not exist/);
    expect(r.stderr).toMatch(/station demo/);
    expect(hasStackTrace(r.stderr)).toBe(false);
    const d = await runCli(['config', 'check', '--config', '/nonexistent/station.yaml', '--debug']);
    expect(d.code).toBe(2);
    expect(hasStackTrace(d.stderr)).toBe(true);
  });

  it('config check: exit 2 naming the key and value; exit 0 when valid; show redacts secrets', async () => {
    const bad = tempConfig('devices:\n  fingerprint: { model: r999 }\n  camra: {}\n');
    const r = await runCli(['config', 'check', '--config', bad.file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/devices\.fingerprint\.model: "r999" is not allowed — allowed: "r307"/);
    expect(r.stderr).toMatch(/devices\.camra: unknown setting — did you mean "camera"\?/);
    const good = tempConfig('headquarters_extra: 1\n'.replace('headquarters_extra: 1\n', ''));
    writeFileSync(good.file, readFileSync(good.file, 'utf8').replace('headquarters:\n', 'headquarters:\n  username: st\n  password: s3cret-pass\n'));
    const ok = await runCli(['config', 'check', '--config', good.file]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/ok \(station ST-TEST-1/);
    const show = await runCli(['config', 'show', '--json', '--config', good.file]);
    expect(show.code).toBe(0);
    const shown = JSON.parse(show.stdout);
    expect(shown.headquarters.password).toBe('[redacted]');
    expect(show.stdout).not.toContain('s3cret-pass');
    expect(shown.devices.fingerprint.baud).toBe(57600);
    const env = await runCli(['config', 'show', '--json', '--config', good.file], { env: { ENROLL_KIOSK__PORT: '9123' } });
    expect(JSON.parse(env.stdout).kiosk.port).toBe(9123);
  });

  it('provision: creates the data dir and a 0600 key, prints the identity, never replaces a key without --rotate', async () => {
    const c = tempConfig();
    const hqDir = join(c.dir, 'hq');
    writeHqKeys(hqDir, await generateHqKeys('test'));
    const r = await runCli(['provision', '--json', '--hq-public', join(hqDir, 'hq-public.json'), '--config', c.file]);
    expect(r.code, r.stderr).toBe(0);
    const id = JSON.parse(r.stdout);
    expect(id).toMatchObject({ format: 'enroll-station/station-identity', stationId: 'ST-TEST-1', unit: { code: '00004' } });
    expect(id.publicKeyPem).toMatch(/BEGIN PUBLIC KEY/);
    expect(id.hqKeyFingerprint).toMatch(/^[0-9a-f]{16}$/);
    const keyFile = join(c.dataDir, 'keys', 'station-ed25519.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(c.dataDir).mode & 0o777).toBe(0o700);
    const privatePem = readFileSync(keyFile, 'utf8');
    const privateBody = privatePem.split('\n')[1];
    expect(r.stdout + r.stderr).not.toContain(privateBody);
    expect(existsSync(join(c.dir, 'hq-public.json'))).toBe(true);

    const again = await runCli(['provision', '--json', '--config', c.file]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).fingerprint).toBe(id.fingerprint);
    expect(readFileSync(keyFile, 'utf8')).toBe(privatePem);

    const rot = await runCli(['provision', '--rotate', '--config', c.file]);
    expect(rot.code, rot.stderr).toBe(0);
    expect(rot.stderr).toMatch(/rotated the station signing key/);
    expect(readFileSync(keyFile, 'utf8')).not.toBe(privatePem);
    expect(readdirSync(join(c.dataDir, 'keys')).some((f) => f.endsWith('.key.old'))).toBe(true);
  });

  it('provision refuses a malformed headquarters key file, naming it, and writes nothing', async () => {
    const c = tempConfig();
    const bad = join(c.dir, 'bad-hq.json');
    writeFileSync(bad, '{"format":"something-else"}');
    const r = await runCli(['provision', '--hq-public', bad, '--config', c.file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(bad);
    expect(existsSync(join(c.dataDir, 'keys'))).toBe(false);
  });

  it('run refuses to start (exit 2) with a wrong-permission data dir or a missing device, naming the path and the fix', async () => {
    const c = tempConfig('devices:\n  fingerprint: { port: /dev/does-not-exist-fp, model: r503, baud: 28800 }\n  camera: { simulated: true }\n  card: { simulated: true }\n  gpio: { simulated: true }\n');
    const hqDir = join(c.dir, 'hq');
    writeHqKeys(hqDir, await generateHqKeys());
    const p = await runCli(['provision', '--hq-public', join(hqDir, 'hq-public.json'), '--config', c.file]);
    expect(p.code, p.stderr).toBe(0);
    chmodSync(c.dataDir, 0o777);
    const r = await runCli(['run', '--config', c.file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`data directory ${c.dataDir} has mode 0777`);
    expect(r.stderr).toContain(`chmod 0700 ${c.dataDir}`);
    expect(r.stderr).toContain('fingerprint scanner port /dev/does-not-exist-fp does not exist');
    expect(r.stderr).toMatch(/devices\.fingerprint\.baud: 28800 baud is not a speed the R503 supports/);
    expect(hasStackTrace(r.stderr)).toBe(false);
  });
});
