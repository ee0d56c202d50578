/**
 * systemd/install.sh as the README runs it, as root, into a throwaway root: the real
 * service user (created by the sysusers.d entry, as on a booth) runs provision,
 * officer add and doctor against the directories the script made, so the owners and
 * modes are proven by use, not read back. Needs root (CI runs as root); skipped otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { ROOT as REPO, STATION_JS } from '../helpers/cli';
import { generateHqKeys, writeHqKeys } from '../../sync/wire/keys';
import { CONSENT_YAML } from '../helpers/station';

const SCRIPT = join(REPO, 'systemd', 'install.sh');
const isRoot = process.getuid?.() === 0;

function run(cmd: string, args: string[], input = ''): { code: number | null; out: string; err: string } {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', env: { ...process.env, ENROLL_CONFIG: undefined } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function owner(path: string): { mode: string; user: string; group: string } {
  const st = statSync(path);
  const name = (id: number, db: string): string => readFileSync(db, 'utf8').split('\n').find((l) => l.split(':')[2] === String(id))?.split(':')[0] ?? String(id);
  return { mode: (st.mode & 0o777).toString(8).padStart(4, '0'), user: name(st.uid, '/etc/passwd'), group: name(st.gid, '/etc/group') };
}

describe.skipIf(!isRoot)('systemd/install.sh (as root, into a throwaway root)', () => {
  let dir: string;
  let root: string;
  let broker: Mosquitto;
  let config: string;
  let hqPublic: string;
  beforeAll(async () => {
    broker = await startMosquitto();
    dir = mkdtempSync(join(tmpdir(), 'install-'));
    chmodSync(dir, 0o755); // the station user must reach the throwaway root
    root = join(dir, 'root');
    writeHqKeys(join(dir, 'hq'), await generateHqKeys('test'));
    hqPublic = join(dir, 'hq', 'hq-public.json');
    config = join(dir, 'config.yaml');
    writeFileSync(config, [
      'version: 1',
      'station: { id: ST-INST-1, unit: { code: "00007", name: "Ward 7" } }',
      CONSENT_YAML,
      'dataDir: /var/lib/enroll-station',
      'kiosk: { port: 0 }',
      'vault: { reserveMb: 1 }',
      'devices: { fingerprint: { simulated: true }, camera: { simulated: true }, card: { simulated: true }, gpio: { simulated: true } }',
      `headquarters: { brokerUrl: "${broker.url}", allowInsecureBroker: true, publicKeyFile: /etc/enroll-station/hq-public.json }`,
      '',
    ].join('\n'));
  });
  afterAll(async () => {
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const install = (extra: string[] = [], pin = '482915\n') => run('bash', [SCRIPT, '--root', root, '--config', config, '--hq-public', hqPublic, '--officer', 'OFF-0042', '--officer-name', 'Nguyễn Văn An', '--identity-out', join(dir, 'ST-INST-1.json'), '--no-apt', ...extra], pin);

  it('creates the user, directories, units and config, then provisions, adds the officer and passes doctor', () => {
    const r = install();
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    for (const s of ['1. user', '2. directories', '3. unit', '4. camera', '5. headquarters key', '6. provision', '7. service']) expect(r.out).toContain(`== ${s}`);
    expect(r.out).toMatch(/all checks passed/);
    expect(r.out).toMatch(/added officer OFF-0042 \(Nguyễn Văn An\)/);
    expect(r.out).toMatch(/not started here \(installed under --root/);

    expect(run('id', ['-u', 'enroll-station']).code).toBe(0);
    expect(owner(join(root, 'etc/enroll-station'))).toEqual({ mode: '0750', user: 'root', group: 'enroll-station' });
    expect(owner(join(root, 'etc/enroll-station/config.yaml'))).toEqual({ mode: '0640', user: 'root', group: 'enroll-station' });
    expect(owner(join(root, 'etc/enroll-station/hq-public.json'))).toEqual({ mode: '0644', user: 'root', group: 'enroll-station' });
    expect(owner(join(root, 'var/lib/enroll-station'))).toEqual({ mode: '0700', user: 'enroll-station', group: 'enroll-station' });
    const keys = JSON.parse(readFileSync(join(dir, 'ST-INST-1.json'), 'utf8')) as { stationId: string; fingerprint: string };
    expect(keys.stationId).toBe('ST-INST-1');
    const officers = join(root, 'var/lib/enroll-station/officers.db');
    expect(owner(officers).user).toBe('enroll-station');
    for (const f of ['etc/systemd/system/enroll-station.service', 'etc/udev/rules.d/99-enroll-station.rules', 'etc/sysusers.d/enroll-station.conf', 'etc/tmpfiles.d/enroll-station.conf']) {
      expect(readFileSync(join(root, f), 'utf8')).toBe(readFileSync(join(REPO, 'systemd', f.endsWith('.service') ? 'enroll-station.service' : f.endsWith('.rules') ? '99-enroll-station.rules' : f.includes('sysusers') ? 'enroll-station.sysusers.conf' : 'enroll-station.tmpfiles.conf'), 'utf8'));
    }
    // the officer really is in the store the daemon reads, readable by the station user
    const cfg = join(root, 'etc/enroll-station/config.yaml');
    const list = run('runuser', ['-u', 'enroll-station', '--', process.execPath, STATION_JS, 'officer', 'list', '--json', '--config', cfg]);
    expect(list.code, list.err).toBe(0);
    expect(JSON.parse(list.out)).toEqual([expect.objectContaining({ id: 'OFF-0042', name: 'Nguyễn Văn An', active: true })]);

    // run again: nothing replaced, the key kept, the officer not added twice
    const again = install([], '');
    expect(again.code, `${again.out}\n${again.err}`).toBe(0);
    expect(again.out).toMatch(/officer OFF-0042 exists/);
    expect(again.err).toMatch(/kept the existing station signing key/);
    expect((JSON.parse(readFileSync(join(dir, 'ST-INST-1.json'), 'utf8')) as { fingerprint: string }).fingerprint).toBe(keys.fingerprint);
  }, 600_000); // two whole installs of a dozen node processes each, on a shared 2-core machine

  it('the README\'s EACCES: the station user cannot write /etc/enroll-station, and provision says how to install the key', () => {
    const cfg = join(root, 'etc/enroll-station/config.yaml');
    expect(existsSync(cfg)).toBe(true);
    const usb = join(dir, 'usb-hq-public.json'); // as on the technician's USB stick: readable by everyone
    writeFileSync(usb, readFileSync(hqPublic));
    chmodSync(usb, 0o644);
    const p = run('runuser', ['-u', 'enroll-station', '--', process.execPath, STATION_JS, 'provision', '--hq-public', usb, '--config', cfg]);
    expect(p.code).toBe(1);
    expect(p.err).toMatch(/cannot install the headquarters key at .*hq-public\.json \(headquarters.publicKeyFile\): EACCES/);
    expect(p.err).toMatch(/sudo install -o root -g enroll-station -m 0644 /);
    expect(p.err).not.toMatch(/\n\s+at /);
  });

  it('bad input names what is wrong: missing options, an unknown option, a config outside --root', () => {
    const none = run('bash', [SCRIPT, '--root', root]);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/--config FILE is required/);
    const unknown = run('bash', [SCRIPT, '--confg', config]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown option --confg[\s\S]*usage:/);
    const outside = join(dir, 'outside.yaml');
    writeFileSync(outside, readFileSync(config, 'utf8').replace('dataDir: /var/lib/enroll-station', `dataDir: ${join(dir, 'elsewhere')}`));
    const r = run('bash', [SCRIPT, '--root', root, '--config', outside, '--hq-public', hqPublic, '--no-apt']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/with --root, dataDir must lie under/);
  });

  it('the README\'s install command uses only options the script has', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const lines = readme.split('\n').filter((l) => l.includes('systemd/install.sh'));
    expect(lines.length).toBeGreaterThan(0);
    const script = readFileSync(SCRIPT, 'utf8');
    for (const l of lines) for (const flag of l.match(/--[a-z-]+/g) ?? []) expect(script, `README uses ${flag}`).toContain(`    ${flag})`);
    // and the manual steps give the officer id as the argument it is
    expect(readme).not.toMatch(/officer add --id/);
  });
});
