import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, redactConfig, schemaLeaves, validateConfig } from '../../config';
import { renderReference } from '../../config/gen-docs';
import { gpioLineBase, gpioLines } from '../../station/gpio-lines';

const minimal = { version: 1, station: { id: 'VN-HN-0001', unit: { code: '00004' } } };

function write(content: string, name = 'config.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const f = join(dir, name);
  writeFileSync(f, content);
  return f;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems.length ? (e as ConfigError).problems : [(e as ConfigError).message];
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('fills defaults for everything not given', () => {
    const { config } = validateConfig(minimal, 'test', { env: {} });
    expect(config.dataDir).toBe('/var/lib/enroll-station');
    expect(config.devices.fingerprint.model).toBe('r307');
    expect(config.devices.fingerprint.baud).toBe(57600);
    expect(config.devices.fingerprint.positions).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(config.kiosk.port).toBe(8080);
    expect(config.vault.suite).toBe('x25519-chacha20poly1305');
    expect(config.devices.gpio.pins.tamper).toBe(5);
  });

  it('defaults the baud per model family (GT-521Fxx ships at 9600)', () => {
    const { config } = validateConfig({ ...minimal, devices: { fingerprint: { model: 'gt521f52' } } }, 'test', { env: {} });
    expect(config.devices.fingerprint.baud).toBe(9600);
    const p = problemsOf(() => validateConfig({ ...minimal, devices: { fingerprint: { model: 'gt521f32', baud: 28800 } } }, 'test', { env: {} }));
    expect(p.join('\n')).toMatch(/devices\.fingerprint\.baud: 28800 is not allowed for model gt521f32 — allowed: 9600, 19200, 38400, 57600, 115200/);
  });

  it('names the key, the bad value and what is allowed', () => {
    const p = problemsOf(() => validateConfig({ ...minimal, devices: { fingerprint: { model: 'r999', baud: 'fast' } }, kiosk: { port: 70000 } }, 'test', { env: {} }));
    const text = p.join('\n');
    expect(text).toMatch(/devices\.fingerprint\.model: "r999" is not allowed — allowed: "r307", "r503"/);
    expect(text).toMatch(/devices\.fingerprint\.baud: "fast" /);
    expect(text).toMatch(/kiosk\.port: 70000 is out of range/);
  });

  it('rejects unknown keys and suggests the likely one', () => {
    const p = problemsOf(() => validateConfig({ ...minimal, devices: { fingerprnt: {} } }, 'test', { env: {} }));
    expect(p.join('\n')).toMatch(/devices\.fingerprnt: unknown setting — did you mean "fingerprint"\?/);
  });

  it('reports a missing required key', () => {
    const p = problemsOf(() => validateConfig({ version: 1, station: { unit: { code: 'x' } } }, 'test', { env: {} }));
    expect(p.join('\n')).toMatch(/station\.id: missing/);
  });

  it('applies environment overrides derived from the schema, with types', () => {
    const env = { ENROLL_DEVICES__FINGERPRINT__BAUD: '115200', ENROLL_DEVICES__CAMERA__SIMULATED: 'true', ENROLL_DEVICES__FINGERPRINT__POSITIONS: '2,7', ENROLL_HEADQUARTERS__USERNAME: 'st1', ENROLL_LOG__LEVEL: 'debug' };
    const { config, envOverrides } = validateConfig(minimal, 'test', { env });
    expect(config.devices.fingerprint.baud).toBe(115200);
    expect(config.devices.camera.simulated).toBe(true);
    expect(config.devices.fingerprint.positions).toEqual([2, 7]);
    expect(config.headquarters.username).toBe('st1');
    expect(config.log.level).toBe('debug');
    expect(envOverrides.sort()).toEqual(Object.keys(env).sort());
    const p = problemsOf(() => validateConfig(minimal, 'test', { env: { ENROLL_KIOSK__PORT: 'eighty' } }));
    // blamed on the variable, not on the file
    expect(p.join('\n')).toMatch(/kiosk\.port \(set by environment variable ENROLL_KIOSK__PORT\): "eighty" has the wrong type — expected integer/);
    const f = write('version: 1\nstation: { id: VN-HN-0001, unit: { code: "00004" } }\nkiosk: { port: 8080 }\n');
    let msg = '';
    try { loadConfig(f, { env: { ENROLL_KIOSK__PORT: 'eighty' } }); } catch (e) { msg = `${(e as ConfigError).message}\n${(e as ConfigError).hint}`; }
    expect(msg).toContain(`config file ${f} (with environment overrides ENROLL_KIOSK__PORT) is not valid`);
    expect(msg).toMatch(/set by" an environment variable is fixed there, not in the file/);
  });

  it('every leaf setting has an environment variable and a description', () => {
    const leaves = schemaLeaves();
    expect(leaves.length).toBeGreaterThan(30);
    for (const l of leaves) {
      expect(l.env).toMatch(/^ENROLL_[A-Z0-9_]+$/);
      expect(String(l.node.description ?? '')).not.toBe('');
    }
    expect(leaves.find((l) => l.path.join('.') === 'headquarters.publicKeyFile')?.env).toBe('ENROLL_HEADQUARTERS__PUBLIC_KEY_FILE');
  });

  it('migrates a version-0 (pilot) file', () => {
    const { config, migrated } = validateConfig({ stationId: 'PILOT-7', ward: '00007', district: 'Hoàn Kiếm', broker: 'mqtts://10.0.0.1:8883', fingerprintPort: '/dev/ttyUSB3' }, 'test', { env: {} });
    expect(migrated).toEqual(['0→1']);
    expect(config.station.id).toBe('PILOT-7');
    expect(config.station.unit).toMatchObject({ code: '00007', district: 'Hoàn Kiếm' });
    expect(config.headquarters.brokerUrl).toBe('mqtts://10.0.0.1:8883');
    expect(config.devices.fingerprint.port).toBe('/dev/ttyUSB3');
  });

  it('a broker without TLS is a configuration error unless allowInsecureBroker is set explicitly', () => {
    for (const url of ['mqtt://10.0.0.1:1883', 'ws://hq.example/mqtt']) {
      const p = problemsOf(() => validateConfig({ ...minimal, headquarters: { brokerUrl: url } }, 'test', { env: {} })).join('\n');
      expect(p, url).toMatch(/headquarters\.brokerUrl: .* has no TLS — use mqtts:\/\/ or wss:\/\/.*allowInsecureBroker: true/);
    }
    // a pilot (version 0) file with a plain broker is refused after migration too
    expect(problemsOf(() => validateConfig({ stationId: 'PILOT-7', ward: '00007', broker: 'mqtt://10.0.0.1:1883' }, 'test', { env: {} })).join('\n')).toMatch(/has no TLS/);
    expect(validateConfig({ ...minimal, headquarters: { brokerUrl: 'mqtt://10.0.0.1:1883', allowInsecureBroker: true } }, 'test', { env: {} }).config.headquarters.allowInsecureBroker).toBe(true);
    expect(validateConfig({ ...minimal, headquarters: { brokerUrl: 'wss://hq.example/mqtt' } }, 'test', { env: {} }).config.headquarters.brokerUrl).toBe('wss://hq.example/mqtt');
    // the environment can set it too, as every setting
    expect(validateConfig({ ...minimal, headquarters: { brokerUrl: 'mqtt://10.0.0.1' } }, 'test', { env: { ENROLL_HEADQUARTERS__ALLOW_INSECURE_BROKER: 'true' } }).config.headquarters.allowInsecureBroker).toBe(true);
  });

  it('refuses a file from a newer version', () => {
    const p = problemsOf(() => validateConfig({ ...minimal, version: 2 }, 'test', { env: {} }));
    expect(p.join('\n')).toMatch(/version: 2 is not allowed — must be 1/);
  });

  it('loads YAML and JSON files; missing, empty, malformed and unreadable files are clear errors', () => {
    expect(loadConfig(write('version: 1\nstation: { id: ST-1, unit: { code: "1" } }\n'), { env: {} }).config.station.id).toBe('ST-1');
    expect(loadConfig(write(JSON.stringify(minimal), 'c.json'), { env: {} }).config.station.id).toBe('VN-HN-0001');
    expect(() => loadConfig('/nonexistent/config.yaml', { env: {} })).toThrow(/config file \/nonexistent\/config\.yaml does not exist/);
    expect(() => loadConfig(write(''), { env: {} })).toThrow(/is empty/);
    expect(() => loadConfig(write('version: 1\nstation: [unclosed\n'), { env: {} })).toThrow(/is not valid YAML\/JSON: .*line/);
    expect(() => loadConfig(write('version: 1\nversion: 1\n'), { env: {} })).toThrow(/not valid YAML/);
    if (process.getuid?.() !== 0) {
      const f = write('version: 1');
      chmodSync(f, 0);
      expect(() => loadConfig(f, { env: {} })).toThrow(/permission denied/);
    }
  });

  it('redacts secrets for display', () => {
    const { config } = validateConfig({ ...minimal, headquarters: { username: 'st', password: 'hunter2' } }, 'test', { env: {} });
    const shown = JSON.stringify(redactConfig(config));
    expect(shown).not.toContain('hunter2');
    expect(shown).toContain('[redacted]');
    expect(config.headquarters.password).toBe('hunter2');
  });

  it('the README configuration reference is generated from the current schema', () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain(renderReference());
  });

  it('the example configuration is valid', () => {
    const f = join(__dirname, '..', '..', 'config', 'station.example.yaml');
    expect(loadConfig(f, { env: {} }).config.station.id).toBe('VN-HN-BD-0001');
  });
});

describe('GPIO line numbers', () => {
  it('pins are BCM numbers; lineBase auto adds the SoC chip base (kernel 6.6+), a number is used as given', () => {
    const { config } = validateConfig(minimal, 'test', { env: {} });
    const pi4 = [{ name: 'gpiochip512', base: 512, ngpio: 58, label: 'pinctrl-bcm2711' }, { name: 'gpiochip570', base: 570, ngpio: 8, label: 'raspberrypi-exp-gpio' }];
    expect(gpioLineBase('auto', pi4)).toBe(512);
    expect(gpioLineBase('auto', [])).toBe(0);
    expect(gpioLineBase(100, pi4)).toBe(100);
    const lines = gpioLines(config.devices.gpio, pi4);
    expect(lines.tamper).toBe(517);
    expect(lines.ready).toBe(529);
    expect(lines.fingerTouch).toBe(null);
    const env = validateConfig(minimal, 'test', { env: { ENROLL_DEVICES__GPIO__LINE_BASE: '571' } }).config;
    expect(env.devices.gpio.lineBase).toBe(571);
    expect(() => validateConfig({ ...minimal, devices: { gpio: { lineBase: 'sometimes' } } }, 'test', { env: {} })).toThrow(/devices\.gpio\.lineBase/);
  });
});
