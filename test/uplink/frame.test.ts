import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash, randomBytes } from 'node:crypto';
import { batchHash, buildFrames, decodeFrame, encodeFrame, FrameError, splitBody, type FrameHeader } from '../../sync/wire/frame';
import { backoffDelay } from '../../sync/uplink/backoff';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function reassemble(frames: Buffer[]): { header: FrameHeader; envelopes: Buffer[] } {
  const decoded = frames.map(decodeFrame);
  if (decoded.length === 1 && decoded[0]!.header.kind === 'batch') return { header: decoded[0]!.header, envelopes: splitBody(decoded[0]!) };
  const sorted = [...decoded].sort((a, b) => a.header.chunk!.index - b.header.chunk!.index);
  let off = 0;
  for (const d of sorted) { expect(d.header.chunk!.offset).toBe(off); off += d.body.length; }
  const body = Buffer.concat(sorted.map((d) => d.body));
  const header = { ...sorted[0]!.header, kind: 'batch' as const, chunk: undefined };
  return { header, envelopes: splitBody({ header, body }) };
}

describe('batch frames', () => {
  it('round-trip any batch, chunked or not, and every frame fits the cap', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 4_096, max: 120_000 }),
      (sizes, cap) => {
        const items = sizes.map((n, i) => { const envelope = randomBytes(n); return { recordId: `r-${i}`, envelope, sha256: sha(envelope) }; });
        const frames = buildFrames({ stationId: 'ST-1', batchId: 'b-1', attempt: 1, items }, cap);
        for (const f of frames) expect(f.length).toBeLessThanOrEqual(cap);
        const { header, envelopes } = reassemble(frames);
        expect(header.batchHash).toBe(batchHash('b-1', items));
        expect(envelopes.map((e) => e.toString('hex'))).toEqual(items.map((i) => i.envelope.toString('hex')));
      },
    ), { numRuns: 60 });
  });

  it('rejects malformed frames with FrameError, never anything else', () => {
    const items = [{ recordId: 'a', envelope: Buffer.from('xyz'), sha256: sha(Buffer.from('xyz')) }];
    const good = buildFrames({ stationId: 'ST-1', batchId: 'b', attempt: 1, items }, 1 << 20)[0]!;
    expect(decodeFrame(good).header.records[0]!.id).toBe('a');
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 400 }), (junk, cut) => {
      for (const b of [Buffer.from(junk), good.subarray(0, Math.min(cut, good.length - 1)), Buffer.concat([good, Buffer.from(junk)])]) {
        if (b.equals(good)) continue;
        try { decodeFrame(b); } catch (e) { expect(e).toBeInstanceOf(FrameError); }
      }
    }), { numRuns: 200 });
    const h = JSON.parse(good.subarray(8, 8 + good.readUInt32BE(4)).toString()) as FrameHeader;
    for (const bad of [
      { ...h, v: 2 }, { ...h, kind: 'other' }, { ...h, batchHash: 'nothex' }, { ...h, records: [] },
      { ...h, records: [{ ...h.records[0]!, len: -1 }] }, { ...h, records: [h.records[0]!, h.records[0]!] },
      { ...h, kind: 'chunk', chunk: { index: 3, count: 2, offset: 0 } },
    ]) {
      expect(() => decodeFrame(encodeFrame(bad as FrameHeader, Buffer.from('xyz')))).toThrow(FrameError);
    }
  });

  it('backoff grows exponentially with jitter and is capped', () => {
    const o = { baseMs: 1000, maxMs: 60_000 };
    expect(backoffDelay(1, o, () => 0)).toBe(500);
    expect(backoffDelay(1, o, () => 1)).toBe(1000);
    expect(backoffDelay(4, o, () => 1)).toBe(8000);
    expect(backoffDelay(50, o, () => 1)).toBe(60_000);
    expect(backoffDelay(50, o, () => 0)).toBe(30_000);
  });
});
