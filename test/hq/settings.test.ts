/**
 * Headquarters settings: file, HQ_* environment and flags over the schema's defaults,
 * every problem blamed on what set it; `hq config check|show`, `hq --version`.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConfigError } from '../../config';
import { hqSettingsLeaves, loadHqSettings, renderHqReference, validateHqSettings } from '../../sync/hq/settings';
import { ROOT } from '../helpers/cli';

const HQ_JS = join(ROOT, 'dist', 'sync', 'hq', 'main.js');

function file(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hq-settings-'));
  const f = join(dir, 'hq.yaml');
  writeFileSync(f, text);
  return f;
}

function problems(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

function hq(args: string[], env: NodeJS.ProcessEnv = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HQ_')));
  return spawnSync(process.execPath, [HQ_JS, ...args], { encoding: 'utf8', env: { ...clean, ...env }, timeout: 30_000 });
}

describe('headquarters settings', () => {
  it('fills every default; the file, then the environment, then flags override', () => {
    const { settings } = validateHqSettings({}, 'test', { env: {} });
    expect(settings).toMatchObject({ version: 1, dataDir: '/var/lib/enroll-hq', broker: { url: 'mqtt://127.0.0.1:1883', topicPrefix: 'enroll/v1', protocolVersion: 5, caFile: null }, commands: { ttlSeconds: 86400, waitSeconds: 15 }, fleet: { waitSeconds: 3 }, ingest: { group: 'ingest', share: true } });
    const f = file('dataDir: /srv/hq\nbroker:\n  url: mqtts://broker.example:8883\n  caFile: /etc/enroll-hq/tls/ca.crt\ncommands: { waitSeconds: 5 }\n');
    const a = loadHqSettings({ file: f, env: { HQ_BROKER_URL: 'mqtts://other:8883', HQ_COMMANDS_TTL_SECONDS: '600' } });
    expect(a.path).toBe(f);
    expect(a.settings.dataDir).toBe('/srv/hq');
    expect(a.settings.broker.url).toBe('mqtts://other:8883');
    expect(a.settings.broker.caFile).toBe('/etc/enroll-hq/tls/ca.crt');
    expect(a.settings.commands).toEqual({ ttlSeconds: 600, waitSeconds: 5 });
    expect(a.envOverrides.sort()).toEqual(['HQ_BROKER_URL', 'HQ_COMMANDS_TTL_SECONDS']);
    const b = loadHqSettings({ file: f, env: { HQ_BROKER_URL: 'mqtts://other:8883' }, flags: [{ key: 'broker.url', value: 'mqtts://flag:8883', flag: '--broker' }] });
    expect(b.settings.broker.url).toBe('mqtts://flag:8883');
    expect(b.flagOverrides).toEqual(['--broker']);
  });

  it('docs/production.md carries the current settings reference', () => {
    expect(readFileSync(join(ROOT, 'docs', 'production.md'), 'utf8'), 'run `npm run docs:config -- --write`').toContain(renderHqReference());
  });

  it('names every setting with its HQ_* variable', () => {
    const envs = hqSettingsLeaves().map((l) => l.env);
    expect(envs).toContain('HQ_DATA_DIR');
    expect(envs).toContain('HQ_BROKER_CA_FILE');
    expect(envs).toContain('HQ_BROKER_PASSWORD');
    expect(envs).toContain('HQ_COMMANDS_WAIT_SECONDS');
    expect(new Set(envs).size, 'two settings map to one variable').toBe(envs.length);
  });

  it('the broker password never comes from the settings file or argv', () => {
    const f = file('broker: { username: hq, password: in-the-file }\n');
    expect(problems(() => loadHqSettings({ file: f, env: {} }))).toMatch(/broker\.password: not allowed in a settings file — set HQ_BROKER_PASSWORD in the environment, or put the password in a file of its own/);
    expect(loadHqSettings({ env: { HQ_BROKER_USERNAME: 'hq', HQ_BROKER_PASSWORD: 'from-env' } }).settings.broker.password).toBe('from-env');
    expect(problems(() => validateHqSettings({}, 'test', { env: { HQ_BROKER_PASSWORD: 'x' } }))).toMatch(/a password is set, so a username is required/);
    const r = hq(['--password', 'secret', 'config', 'check']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--password is not accepted/);
  });

  it('blames each problem on the file key, the variable or the flag that set it', () => {
    const f = file('dataDir: /srv/hq\nbrokr: { url: mqtt://x }\ncommands: { waitSeconds: -1 }\n');
    const m = problems(() => loadHqSettings({ file: f, env: { HQ_FLEET_WAIT_SECONDS: 'soon' }, flags: [{ key: 'commands.ttlSeconds', value: 9_000_000, flag: '--ttl' }] }));
    expect(m).toContain(`settings file ${f} is not valid`);
    expect(m).toMatch(/brokr: unknown setting — did you mean "broker"\?/);
    expect(m).toMatch(/commands\.waitSeconds: -1 is out of range/);
    expect(m).toMatch(/fleet\.waitSeconds \(set by environment variable HQ_FLEET_WAIT_SECONDS\): "soon" has the wrong type/);
    expect(m).toMatch(/commands\.ttlSeconds \(set by the command-line flag --ttl\): 9000000 is out of range/);
    expect(problems(() => validateHqSettings({ broker: { certFile: '/c.pem' } }, 'test', { env: {} }))).toMatch(/broker\.certFile and broker\.keyFile: set both/);
    expect(problems(() => validateHqSettings({ broker: { protocolVersion: 4 } }, 'test', { env: {} }))).toMatch(/ingest\.share: shared subscriptions need MQTT 5/);
  });

  it('an explicit settings file that is missing or unreadable is an error naming it', () => {
    expect(problems(() => loadHqSettings({ file: '/nonexistent/hq.yaml', env: {} }))).toMatch(/settings file \/nonexistent\/hq\.yaml does not exist/);
    expect(problems(() => loadHqSettings({ env: { HQ_CONFIG: '/nonexistent/hq2.yaml' } }))).toMatch(/hq2\.yaml does not exist/);
    const f = file('broker: [\n');
    expect(problems(() => loadHqSettings({ file: f, env: {} }))).toMatch(/is not valid YAML\/JSON/);
    if (process.getuid?.() !== 0) {
      chmodSync(f, 0);
      expect(problems(() => loadHqSettings({ file: f, env: {} }))).toMatch(/permission denied/);
    }
  });

  it('hq config check / show / --version from the executable; secrets redacted; exit 2 when invalid', () => {
    const f = file('broker:\n  url: mqtts://broker.example:8883\n  username: hq-ops\n');
    const ok = hq(['--config', f, 'config', 'check'], { HQ_BROKER_PASSWORD: 'pa55-secret' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`${f}: ok`);
    expect(ok.stdout).toContain('overridden by environment: HQ_BROKER_PASSWORD');
    const show = hq(['--config', f, '--data-dir', '/srv/x', 'config', 'show', '--json'], { HQ_BROKER_PASSWORD: 'pa55-secret' });
    expect(show.status, show.stderr).toBe(0);
    expect(show.stdout).not.toContain('pa55-secret');
    expect(JSON.parse(show.stdout)).toMatchObject({ dataDir: '/srv/x', broker: { url: 'mqtts://broker.example:8883', password: '[redacted]' } });
    const bad = hq(['config', 'check'], { HQ_CONFIG: f, HQ_BROKER_PROTOCOL_VERSION: '3' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/broker\.protocolVersion \(set by environment variable HQ_BROKER_PROTOCOL_VERSION\): 3 is not allowed — allowed: 4, 5/);
    const v = hq(['--version']);
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const unknown = hq(['no-such-command']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'no-such-command'/);
  });
});
