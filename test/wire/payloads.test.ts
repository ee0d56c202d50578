/**
 * Topic payload schemas (sync/wire/payloads.ts): what the senders produce is
 * accepted, and what a hostile or broken sender could put on a topic is refused
 * with a reason that names the field — by the same code on both ends.
 */
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { checkPayload, parsePayload, PAYLOAD_LIMITS, type HealthPayload } from '../../sync/wire/payloads';
import { encodeSigned, signMessage, TrustedKeys, verifySignedBody } from '../../sync/wire/signed';
import { CommandVerifier, MemoryReplayStore, signCommand } from '../../sync/commands';

const hex = (c: string) => c.repeat(64);

describe('topic payload schemas', () => {
  it('accept what stations and headquarters send', () => {
    const health: HealthPayload = {
      v: 1, at: 1795870000000, session: 4, version: '0.1.0', uptimeS: 10, diskFreeBytes: 1e9,
      backlog: { count: 2, oldestAgeMs: null, rejected: 0, held: 1 }, lastReceiptAt: null,
      devices: [{ name: 'camera', state: 'missing', detail: '/dev/video0 gone' }], cpuTempC: null, clockOffsetMs: 12,
      enrollments: { today: 3, quota: null, unit: 'U-1' }, locked: false, lockReason: null, policy: { maxUnacked: 5000, maxDaysSinceReceipt: null }, intervalS: 300,
    };
    expect(checkPayload('health', health).ok).toBe(true);
    // #21: the updater's hold and the signed-time nonce, and headquarters' signed time answering it
    expect(checkPayload('health', { ...health, updateHold: { by: 'rauc', until: 1795873600000 }, timeNonce: 'ab'.repeat(16) }).ok).toBe(true);
    expect(checkPayload('health', { ...health, updateHold: { by: 'rauc' } }).ok).toBe(false);
    expect(checkPayload('health', { ...health, timeNonce: 'short' }).ok).toBe(false);
    expect(checkPayload('time', { type: 'time', stationId: 'ST-1', nonce: 'ab'.repeat(16), at: 1 }).ok).toBe(true);
    expect(checkPayload('time', { type: 'time', stationId: 'ST-1', nonce: 'ab'.repeat(16), at: 1, extra: 1 }).ok).toBe(false);
    expect(checkPayload('status', { v: 1, state: 'lost', session: 3, at: 5 }).ok).toBe(true);
    expect(checkPayload('events', { v: 1, id: '0190', kind: 'tamper', at: 1, data: { input: 'lid' } }).ok).toBe(true);
    expect(checkPayload('ingest', { v: 1, online: true, worker: 'hq1-42', at: 1 }).ok).toBe(true);
    expect(checkPayload('receipt', {
      type: 'receipt', stationId: 'ST-1', batchId: 'b', batchHash: hex('a'), at: 1, worker: 'w',
      results: [
        { recordId: 'r', sha256: hex('b'), status: 'rejected', reason: 'bad-signature', detail: 'no registered key verifies it' },
        { recordId: 's', sha256: hex('c'), status: 'held', reason: 'unknown-hq-key', retryAfterS: 300 },
        { recordId: 't', sha256: hex('d'), status: 'stored' },
      ],
    }).ok).toBe(true);
  });

  it('a receipt keeps a record back only with an enumerated reason, and releases one only without', () => {
    const receipt = (result: object) => ({ type: 'receipt', stationId: 'ST-1', batchId: 'b', batchHash: hex('a'), at: 1, worker: 'w', results: [{ recordId: 'r', sha256: hex('b'), ...result }] });
    expect(checkPayload('receipt', receipt({ status: 'held' })).ok).toBe(false); // held without saying why
    expect(checkPayload('receipt', receipt({ status: 'rejected', reason: 'station signature does not verify' })).ok).toBe(false); // free text is not a reason
    expect(checkPayload('receipt', receipt({ status: 'stored', reason: 'quota' })).ok).toBe(false); // released, yet a reason
    expect(checkPayload('receipt', receipt({ status: 'held', reason: 'quota', retryAfterS: 60 })).ok).toBe(true);
  });

  it('refuse wrong types, unknown fields and oversize payloads, naming the field', () => {
    const r1 = checkPayload('status', { v: 1, state: 'online', session: '3', at: 5 });
    expect(r1).toEqual({ ok: false, error: 'field session must be integer' });
    const r2 = checkPayload('receipt', {
      type: 'receipt', stationId: 'ST-1', batchId: 'b', batchHash: hex('a'), at: 1, worker: 'w',
      results: [{ recordId: 'r', sha256: hex('b'), status: 'stored', extra: 1 }],
    });
    expect(r2.ok).toBe(false);
    expect(!r2.ok && r2.error).toMatch(/results\.0 has an unknown field "extra"/);
    const r3 = checkPayload('status', { v: 1, state: 'asleep', session: 3, at: 5 });
    expect(!r3.ok && r3.error).toMatch(/field state must be one of "online", "offline", "lost"/);
    // a station id that would be a topic wildcard
    expect(checkPayload('auditAck', { type: 'audit-ack', stationId: 'ST/#', seq: 1, hash: hex('c'), at: 1 }).ok).toBe(false);
    // refused before JSON.parse: a 4 MB "event"
    const big = Buffer.from(JSON.stringify({ v: 1, id: 'x', kind: 'tamper', at: 1, data: { pad: 'x'.repeat(4 << 20) } }));
    const r4 = parsePayload('events', big);
    expect(r4).toEqual({ ok: false, error: `${big.length} bytes, more than the ${PAYLOAD_LIMITS.events} allowed` });
    expect(parsePayload('health', Buffer.from('{not json'))).toEqual({ ok: false, error: 'not JSON' });
  });

  it('a signed body is checked against the schema its type names, after its signature', () => {
    const k = generateKeyPairSync('ed25519').privateKey;
    const trusted = new TrustedKeys([k]);
    const ack = { type: 'audit-ack', stationId: 'ST-1', seq: 3, hash: hex('d'), at: 1 };
    const ok = verifySignedBody(encodeSigned(signMessage(ack, k)), trusted, ['receipt', 'audit-ack']);
    expect(ok.ok && ok.body.type).toBe('audit-ack');
    const wrongType = verifySignedBody(encodeSigned(signMessage({ ...ack, type: 'command' }, k)), trusted, ['receipt', 'audit-ack']);
    expect(wrongType).toEqual({ ok: false, reason: 'body type "command" is not one of receipt, audit-ack' });
    const bad = verifySignedBody(encodeSigned(signMessage({ ...ack, seq: -1 }, k)), trusted, ['audit-ack']);
    expect(bad).toEqual({ ok: false, reason: 'malformed audit-ack: field seq must be >= 0' });
    const other = generateKeyPairSync('ed25519').privateKey;
    const forged = verifySignedBody(encodeSigned(signMessage(ack, other)), trusted, ['audit-ack']);
    expect(forged.ok).toBe(false);
  });

  it('the station refuses a validly signed command whose body has an unknown field as CMD_MALFORMED', () => {
    const ops = generateKeyPairSync('ed25519').privateKey;
    const verifier = new CommandVerifier({ stationId: 'ST-1', opsKeys: new TrustedKeys([ops]), replay: new MemoryReplayStore() });
    const { body } = signCommand({ target: 'ST-1', name: 'lock', args: { reason: 'x' } }, ops);
    const tampered = encodeSigned(signMessage({ ...body, runAs: 'root' }, ops));
    const v = verifier.verify(tampered, 'lock');
    expect(v.ok).toBe(false);
    expect(!v.ok && v.code).toBe('CMD_MALFORMED');
    expect(!v.ok && v.reason).toMatch(/unknown field "runAs"/);
    expect(!v.ok && v.id).toBe(body.id);
    const good = verifier.verify(encodeSigned(signMessage(body, ops)), 'lock');
    expect(good.ok).toBe(true);
  });
});
