/**
 * Command expiry judged by the station's trusted time (#21): headquarters' signed time when the
 * station has it, the local clock (and the refusal says so) when it has none, and — with an unset
 * clock and no signed time at all — only commands that can only tighten the station run; the
 * rest are refused CMD_NO_TRUSTED_TIME (fail closed). StationClock on fake clocks.
 */
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { CommandVerifier, MemoryReplayStore, NO_TIME_SAFE, signCommand } from '../../sync/commands';
import { TrustedKeys, encodeSigned } from '../../sync/wire/signed';
import { StationClock } from '../../station/clock';

const ops = generateKeyPairSync('ed25519').privateKey;
const TRUE_NOW = Date.parse('2026-12-02T09:00:00Z');

function setup(wall0: number) {
  let wall = wall0;
  let mono = 5_000;
  const clock = new StationClock({ wall: () => wall, mono: () => mono });
  const v = new CommandVerifier({ stationId: 'ST-1', opsKeys: new TrustedKeys([ops]), replay: new MemoryReplayStore(), judgeNow: () => clock.judgeNow() });
  const cmd = (name: Parameters<typeof signCommand>[0]['name'], o: { now?: number; ttlMs?: number } = {}) =>
    encodeSigned(signCommand({ target: 'ST-1', name, now: o.now ?? TRUE_NOW, ttlMs: o.ttlMs ?? 3_600_000, ...(name === 'lock' ? { args: { reason: 'test' } } : {}) }, ops).message);
  /** Headquarters' signed time TRUE_NOW, answered within 100 ms. */
  const receiveTime = () => { const s = mono; mono += 100; wall += 100; clock.observe(TRUE_NOW, s, mono); };
  return { v, cmd, receiveTime, clock };
}

describe('command expiry on the trusted clock', () => {
  it('unset clock, no signed time: loosening commands refused CMD_NO_TRUSTED_TIME, tightening ones run', () => {
    const { v, cmd } = setup(0); // 1970
    const r = v.verify(cmd('unlock'), 'unlock');
    expect(r).toMatchObject({ ok: false, code: 'CMD_NO_TRUSTED_TIME' });
    expect(!r.ok && r.reason).toMatch(/clock is unset and no signed time/);
    for (const n of ['set-policy', 'rotate-key'] as const) expect(v.verify(cmd(n), n)).toMatchObject({ ok: false, code: 'CMD_NO_TRUSTED_TIME' });
    expect(NO_TIME_SAFE).toEqual(['lock', 'sync-now', 'request-health']);
    expect(v.verify(cmd('lock'), 'lock')).toMatchObject({ ok: true, timeSource: null });
    // still no replay: the id is remembered
    const again = cmd('request-health');
    expect(v.verify(again, 'request-health')).toMatchObject({ ok: true });
    expect(v.verify(again, 'request-health')).toMatchObject({ ok: false, code: 'CMD_REPLAYED' });
  });

  it('after the first signed time, a 1970 station accepts a current command and refuses an expired one', () => {
    const { v, cmd, receiveTime } = setup(0);
    receiveTime();
    expect(v.verify(cmd('unlock'), 'unlock')).toMatchObject({ ok: true, timeSource: 'trusted' });
    const old = v.verify(cmd('unlock', { now: TRUE_NOW - 7_200_000 }), 'unlock');
    expect(old).toMatchObject({ ok: false, code: 'CMD_EXPIRED' });
    expect(!old.ok && old.reason).toMatch(/judged by headquarters' signed time/);
  });

  it('a clock 2 days ahead: by itself it refuses a current command as expired, saying it judged by the local clock; with signed time it accepts it', () => {
    const ahead = setup(TRUE_NOW + 2 * 86_400_000);
    const r = ahead.v.verify(ahead.cmd('set-policy'), 'set-policy');
    expect(r).toMatchObject({ ok: false, code: 'CMD_EXPIRED' });
    expect(!r.ok && r.reason).toMatch(/judged by the local clock \(no signed time from headquarters yet\)/);
    ahead.receiveTime();
    expect(ahead.v.verify(ahead.cmd('set-policy'), 'set-policy')).toMatchObject({ ok: true, timeSource: 'trusted' });
  });

  it('a clock 2 days behind cannot make an expired command valid once signed time is known', () => {
    const behind = setup(TRUE_NOW - 2 * 86_400_000);
    const stale = () => behind.cmd('unlock', { now: TRUE_NOW - 86_400_000 }); // expired a day ago by true time
    expect(behind.v.verify(stale(), 'unlock')).toMatchObject({ ok: false, code: 'CMD_NOT_YET_VALID' }); // the local clock's view
    behind.receiveTime();
    expect(behind.v.verify(stale(), 'unlock')).toMatchObject({ ok: false, code: 'CMD_EXPIRED' });
  });
});
