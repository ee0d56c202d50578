import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandVerifier, FileReplayStore, MemoryReplayStore, signCommand, parsePolicyArgs, checkCommandArgs, COMMAND_ARGS, COMMAND_NAMES, MAX_COMMAND_LIFETIME_MS } from '../../sync/commands';
import { TrustedKeys, signMessage, encodeSigned } from '../../sync/wire/signed';

const ops = generateKeyPairSync('ed25519').privateKey;
const other = generateKeyPairSync('ed25519').privateKey;
const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function verifier(now = () => Date.now(), replay = new MemoryReplayStore()) {
  return new CommandVerifier({ stationId: 'ST-1', opsKeys: new TrustedKeys([ops]), replay, now });
}

describe('signed commands', () => {
  it('accepts a valid command once, then refuses the replay', () => {
    const v = verifier();
    const { message } = signCommand({ target: 'ST-1', name: 'lock', args: { reason: 'audit' } }, ops);
    const r1 = v.verify(encodeSigned(message), 'lock');
    expect(r1.ok).toBe(true);
    const r2 = v.verify(encodeSigned(message), 'lock');
    expect(r2).toMatchObject({ ok: false, code: 'CMD_REPLAYED' });
  });

  it('refuses unsigned, badly signed, foreign-key, expired, future, mistargeted, unknown and mismatched-topic commands', () => {
    const v = verifier();
    const ok = signCommand({ target: 'ST-1', name: 'unlock' }, ops);
    const unsigned = { ...ok.message, sig: '' };
    expect(v.verify(encodeSigned(unsigned), 'unlock')).toMatchObject({ ok: false, code: 'CMD_UNSIGNED' });
    const tampered = { ...ok.message, body: ok.message.body.replace('"unlock"', '"lock"') };
    expect(v.verify(encodeSigned(tampered), 'lock')).toMatchObject({ ok: false, code: 'CMD_BAD_SIGNATURE', id: ok.body.id });
    const foreign = signCommand({ target: 'ST-1', name: 'unlock' }, other);
    expect(v.verify(encodeSigned(foreign.message), 'unlock')).toMatchObject({ ok: false, code: 'CMD_BAD_SIGNATURE' });
    // a foreign key claiming the ops key id still fails the signature
    const claim = signMessage(foreign.body, other, ok.message.kid);
    expect(v.verify(encodeSigned(claim), 'unlock')).toMatchObject({ ok: false, code: 'CMD_BAD_SIGNATURE' });
    const expired = signCommand({ target: 'ST-1', name: 'unlock', now: Date.now() - 10_000, ttlMs: 5_000 }, ops);
    expect(v.verify(encodeSigned(expired.message), 'unlock')).toMatchObject({ ok: false, code: 'CMD_EXPIRED' });
    const future = signCommand({ target: 'ST-1', name: 'unlock', now: Date.now() + 3600_000 }, ops);
    expect(v.verify(encodeSigned(future.message), 'unlock')).toMatchObject({ ok: false, code: 'CMD_NOT_YET_VALID' });
    const elsewhere = signCommand({ target: 'ST-2', name: 'unlock' }, ops);
    expect(v.verify(encodeSigned(elsewhere.message), 'unlock')).toMatchObject({ ok: false, code: 'CMD_WRONG_TARGET' });
    const unknownBody = { type: 'command', id: 'x1', target: 'ST-1', name: 'self-destruct', args: {}, issuedAt: Date.now(), expiresAt: Date.now() + 1000 };
    expect(v.verify(encodeSigned(signMessage(unknownBody, ops)), 'self-destruct')).toMatchObject({ ok: false, code: 'CMD_UNKNOWN' });
    const sync = signCommand({ target: 'ST-1', name: 'sync-now' }, ops);
    expect(v.verify(encodeSigned(sync.message), 'lock')).toMatchObject({ ok: false, code: 'CMD_MALFORMED' });
    const tooLong = { ...ok.body, id: 'x2', expiresAt: ok.body.issuedAt + MAX_COMMAND_LIFETIME_MS + 1 };
    expect(v.verify(encodeSigned(signMessage(tooLong, ops)), 'unlock')).toMatchObject({ ok: false, code: 'CMD_MALFORMED' });
    expect(v.verify(Buffer.from('garbage'), 'unlock')).toMatchObject({ ok: false });
  });

  it('remembers executed command ids across restarts (file replay store)', () => {
    const d = mkdtempSync(join(tmpdir(), 'replay-'));
    dirs.push(d);
    const path = join(d, 'seen.json');
    const { message } = signCommand({ target: 'ST-1', name: 'request-health' }, ops);
    expect(verifier(Date.now, new FileReplayStore(path)).verify(encodeSigned(message), 'request-health').ok).toBe(true);
    expect(verifier(Date.now, new FileReplayStore(path)).verify(encodeSigned(message), 'request-health')).toMatchObject({ ok: false, code: 'CMD_REPLAYED' });
    writeFileSync(path, '{broken');
    // a corrupt store is set aside rather than crashing the station
    expect(() => new FileReplayStore(path)).not.toThrow();
  });

  it('parses set-policy arguments and refuses nonsense', () => {
    expect(parsePolicyArgs({ maxUnacknowledged: 5000, maxDaysSinceReceipt: '14' })).toEqual({ maxUnacked: 5000, maxDaysSinceReceipt: 14 });
    // a key not given keeps the station's limit; only the word none removes one
    expect(parsePolicyArgs({ maxUnacknowledged: 'none' })).toEqual({ maxUnacked: null });
    expect(parsePolicyArgs({ maxDaysSinceReceipt: 3 })).toEqual({ maxDaysSinceReceipt: 3 });
    expect(() => parsePolicyArgs({ maxUnacknowledged: -1 })).toThrow(/maxUnacknowledged/);
    expect(() => parsePolicyArgs({ maxUnacknowledged: 2.5 })).toThrow(/whole number/);
    expect(() => parsePolicyArgs({ maxDaysSinceReceipt: 'soon' })).toThrow(/maxDaysSinceReceipt/);
    expect(() => parsePolicyArgs({ maxDaysSinceReceipt: null })).toThrow(/or none/);
    // the misspelt key that used to clear both limits
    expect(() => parsePolicyArgs({ maxUnacked: 100 })).toThrow(/does not take "maxUnacked" — allowed: maxUnacknowledged, maxDaysSinceReceipt/);
    expect(() => parsePolicyArgs({})).toThrow(/at least one/);
  });

  it('every command refuses arguments it does not take, naming the allowed ones', () => {
    expect(() => checkCommandArgs('lock', { reason: 'audit' })).not.toThrow();
    expect(() => checkCommandArgs('lock', { reson: 'audit' })).toThrow(/lock does not take "reson" — allowed: reason/);
    expect(() => checkCommandArgs('sync-now', { now: true })).toThrow(/takes no arguments/);
    for (const name of COMMAND_NAMES) expect(COMMAND_ARGS[name], name).toBeDefined();
  });
});
