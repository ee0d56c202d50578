/**
 * The shipped systemd unit (#14 item 5): systemd itself parses it without a single
 * warning, and it keeps the daemon's memory off the disk — no core dumps, the
 * watchdog kills instead of aborting, no swap.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli';

const UNIT = join(ROOT, 'systemd', 'enroll-station.service');

/** `systemd-analyze verify` on a copy of the unit text (systemd checks unit names against the file name). */
function verify(text: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'unit-'));
  try {
    const f = join(dir, 'enroll-station.service');
    writeFileSync(f, text);
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', f], { encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every `Key=value` of a section, in order (repeated keys kept). */
function section(text: string, name: string): [string, string][] {
  const out: [string, string][] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) { cur = m[1]!; continue; }
    const i = line.indexOf('=');
    if (cur === name && i > 0) out.push([line.slice(0, i), line.slice(i + 1)]);
  }
  return out;
}

describe('systemd unit', () => {
  const text = readFileSync(UNIT, 'utf8');

  it('passes systemd-analyze verify without a warning', () => {
    const r = verify(text);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
    // verify does read the values: a bad one is reported (so the check above can fail)
    const bad = verify(text.replace('LimitCORE=0', 'LimitCORE=banana'));
    expect(bad.output).toMatch(/enroll-station\.service:\d+: Failed to parse resource value, ignoring: banana/);
  });

  it('sets LimitCORE=0, kills on watchdog timeout with SIGKILL, keeps the daemon out of swap', () => {
    const svc = new Map(section(text, 'Service'));
    expect(svc.get('LimitCORE')).toBe('0');
    expect(svc.get('WatchdogSec')).toMatch(/^\d+s$/);
    expect(svc.get('WatchdogSignal')).toBe('SIGKILL');
    expect(svc.get('MemorySwapMax')).toBe('0');
    // the GPIO character devices stay reachable under DevicePolicy=closed
    expect(section(text, 'Service').filter(([k]) => k === 'DeviceAllow').map(([, v]) => v)).toContain('char-gpiochip rw');
  });

  it('keeps /sys read-only except sysfs GPIO, which the daemon needs to watch the tamper switch (#14 item 4)', () => {
    const svc = section(text, 'Service');
    expect(new Map(svc).get('ProtectKernelTunables')).toBe('yes');
    const rw = svc.filter(([k]) => k === 'ReadWritePaths').flatMap(([, v]) => v.split(/\s+/));
    expect(rw).toEqual(expect.arrayContaining(['-/sys/class/gpio', '-/sys/devices/platform']));
    expect(rw.filter((p) => p.replace(/^-/, '').startsWith('/sys')).sort()).toEqual(['-/sys/class/gpio', '-/sys/devices/platform']);
  });
});

describe('headquarters units: keys by duty (#13 item 2)', () => {
  const read = (name: string): string => readFileSync(join(ROOT, 'systemd', 'hq', name), 'utf8');
  const verifyAs = (name: string, text: string): { status: number | null; output: string } => {
    const dir = mkdtempSync(join(tmpdir(), 'unit-'));
    try {
      const f = join(dir, name);
      writeFileSync(f, text);
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', f], { encoding: 'utf8', timeout: 30_000 });
      return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const validator = read('enroll-hq-validator.service');
  const ingest = read('enroll-hq-ingest.service');

  it('both pass systemd-analyze verify without a warning', () => {
    for (const [name, text] of [['enroll-hq-validator.service', validator], ['enroll-hq-ingest.service', ingest]] as const) {
      const r = verifyAs(name, text);
      expect(r.output, name).toBe('');
      expect(r.status, name).toBe(0);
    }
    expect(verifyAs('enroll-hq-validator.service', validator.replace('LimitCORE=0', 'LimitCORE=banana')).output).toMatch(/banana/);
  });

  it('the validator runs as its own user with no network; the ingest as another, without the validator\'s keys', () => {
    const v = new Map(section(validator, 'Service'));
    const i = new Map(section(ingest, 'Service'));
    expect(v.get('User')).toBe('enroll-hqval');
    expect(i.get('User')).toBe('enroll-hq');
    expect(v.get('PrivateNetwork')).toBe('yes');
    expect(v.get('RestrictAddressFamilies')).toBe('AF_UNIX');
    expect(v.get('ExecStart')).toMatch(/main\.js validator --config/);
    expect(i.get('ExecStart')).toMatch(/main\.js run --config/);
    for (const s of [v, i]) { expect(s.get('LimitCORE')).toBe('0'); expect(s.get('MemorySwapMax')).toBe('0'); expect(s.get('ProtectSystem')).toBe('strict'); }
    // the ingest may reach the socket directory and nothing of the validator's state
    const rw = section(ingest, 'Service').filter(([k]) => k === 'ReadWritePaths').flatMap(([, x]) => x.split(/\s+/));
    expect(rw).toEqual(['-/run/enroll-hqval']);
    expect(v.get('StateDirectory')).toBe('enroll-hqval');
    expect(v.get('StateDirectoryMode')).toBe('0700');
    expect(i.get('StateDirectory')).toBe('enroll-hq');
    // the two accounts in sysusers, the validator's primary group the ingest's (for the 0660 socket)
    const users = read('enroll-hq.sysusers.conf').split('\n').filter((l) => l.startsWith('u '));
    expect(users.map((l) => l.split(/\s+/).slice(1, 3))).toEqual([['enroll-hq', '-:enroll-hq'], ['enroll-hqval', '-:enroll-hq'], ['enroll-hqdash', '-:enroll-hqdash'], ['enroll-hqops', '-:enroll-hqdash']]);
  });

  it('the dashboard (#20) holds no key and reaches only the signer\'s socket; the signer holds the ops key with no network', () => {
    const dash = read('enroll-hq-dashboard.service');
    const signer = read('enroll-hq-signer.service');
    for (const [name, text] of [['enroll-hq-dashboard.service', dash], ['enroll-hq-signer.service', signer]] as const) {
      const r = verifyAs(name, text);
      expect(r.output, name).toBe('');
      expect(r.status, name).toBe(0);
    }
    const d = new Map(section(dash, 'Service'));
    const g = new Map(section(signer, 'Service'));
    expect(d.get('User')).toBe('enroll-hqdash');
    expect(g.get('User')).toBe('enroll-hqops');
    expect(g.get('Group')).toBe('enroll-hqdash'); // its 0660 socket is the dashboard's group's
    expect(g.get('PrivateNetwork')).toBe('yes');
    expect(g.get('RestrictAddressFamilies')).toBe('AF_UNIX');
    expect(d.get('ExecStart')).toMatch(/main\.js dashboard --config \/etc\/enroll-hqdash\//);
    expect(g.get('ExecStart')).toMatch(/main\.js signer --config \/etc\/enroll-hqdash\//);
    expect(section(dash, 'Service').filter(([k]) => k === 'ReadWritePaths').flatMap(([, x]) => x.split(/\s+/))).toEqual(['-/run/enroll-hqops']);
    for (const s of [d, g]) { expect(s.get('LimitCORE')).toBe('0'); expect(s.get('ProtectSystem')).toBe('strict'); expect(s.get('SupplementaryGroups')).toBeUndefined(); }
  });
});
