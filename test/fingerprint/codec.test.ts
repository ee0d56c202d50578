import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  CMD, PID, R30xParser, encodeAck, encodeCommand, encodeR30x, encodeSysParams, parseSysParams, r30xChecksum, type R30xFrame,
} from '../../drivers/fingerprint/r30x-codec';
import { GT, GtParser, encodeGtAck, encodeGtCommand, encodeGtData, encodeGtNack, type GtFrame } from '../../drivers/fingerprint/gt-codec';

const hex = (s: string): Buffer => Buffer.from(s.replace(/[^0-9A-Fa-f]/g, ''), 'hex');

describe('R30x worked frames from the reference', () => {
  const u16 = (n: number) => [n >> 8, n & 0xff];
  const cases: Array<[string, Buffer, string]> = [
    ['VfyPwd(0)', encodeCommand(CMD.VfyPwd, [0, 0, 0, 0]), 'EF01 FFFFFFFF 01 0007 13 00000000 001B'],
    ['GenImg', encodeCommand(CMD.GenImg), 'EF01 FFFFFFFF 01 0003 01 0005'],
    ['ack OK', encodeAck(0), 'EF01 FFFFFFFF 07 0003 00 000A'],
    ['ack no finger', encodeAck(2), 'EF01 FFFFFFFF 07 0003 02 000C'],
    ['Img2Tz(1)', encodeCommand(CMD.Img2Tz, [1]), 'EF01 FFFFFFFF 01 0004 02 01 0008'],
    ['RegModel', encodeCommand(CMD.RegModel), 'EF01 FFFFFFFF 01 0003 05 0009'],
    ['Store(1,5)', encodeCommand(CMD.Store, [1, ...u16(5)]), 'EF01 FFFFFFFF 01 0006 06 01 0005 0013'],
    ['Search(1,0,163)', encodeCommand(CMD.Search, [1, ...u16(0), ...u16(163)]), 'EF01 FFFFFFFF 01 0008 04 01 0000 00A3 00B1'],
    ['ack found', encodeAck(0, [...u16(5), ...u16(100)]), 'EF01 FFFFFFFF 07 0007 00 0005 0064 0077'],
    ['ack not found', encodeAck(9, [0, 0, 0, 0]), 'EF01 FFFFFFFF 07 0007 09 0000 0000 0017'],
    ['ReadSysPara', encodeCommand(CMD.ReadSysPara), 'EF01 FFFFFFFF 01 0003 0F 0013'],
    ['ReadSysPara ack', encodeAck(0, encodeSysParams({ status: 0, systemId: 0, librarySize: 200, securityLevel: 3, address: 0xffffffff, packetSizeCode: 2, baudN: 6 })),
      'EF01 FFFFFFFF 07 0013 00 0000 0000 00C8 0003 FFFFFFFF 0002 0006 04E9'],
    ['TemplateNum', encodeCommand(CMD.TemplateNum), 'EF01 FFFFFFFF 01 0003 1D 0021'],
    ['TemplateNum ack', encodeAck(0, u16(3)), 'EF01 FFFFFFFF 07 0005 00 0003 000F'],
    ['Aura', encodeCommand(CMD.AuraLedConfig, [1, 0x80, 2, 0]), 'EF01 FFFFFFFF 01 0007 35 01 80 02 00 00C0'],
    ['DeletChar(5,1)', encodeCommand(CMD.DeletChar, [...u16(5), ...u16(1)]), 'EF01 FFFFFFFF 01 0007 0C 0005 0001 001A'],
    ['SetSysPara(4,12)', encodeCommand(CMD.SetSysPara, [4, 12]), 'EF01 FFFFFFFF 01 0005 0E 04 0C 0024'],
    ['data 128x0x11', encodeR30x(PID.data, Buffer.alloc(128, 0x11)), `EF01 FFFFFFFF 02 0082 ${'11'.repeat(128)} 0904`],
    ['end 128x0x11', encodeR30x(PID.end, Buffer.alloc(128, 0x11)), `EF01 FFFFFFFF 08 0082 ${'11'.repeat(128)} 090A`],
  ];
  for (const [name, got, want] of cases) {
    it(`encodes ${name}`, () => expect(got.toString('hex')).toBe(hex(want).toString('hex')));
    it(`parses ${name}`, () => {
      const frames: R30xFrame[] = [];
      const p = new R30xParser({ onFrame: (f) => frames.push(f) });
      p.push(hex(want));
      expect(frames).toHaveLength(1);
      expect(encodeR30x(frames[0].pid, frames[0].payload).equals(hex(want))).toBe(true);
      expect(p.stats.discardedBytes).toBe(0);
    });
  }
  it('decodes the ReadSysPara results', () => {
    const f = hex('EF01 FFFFFFFF 07 0013 00 0000 0000 00C8 0003 FFFFFFFF 0002 0006 04E9');
    const sp = parseSysParams(f.subarray(10, 26));
    expect(sp).toMatchObject({ librarySize: 200, securityLevel: 3, address: 0xffffffff, packetSize: 128, baud: 57600 });
  });
  it('checksum does not include header or address', () => {
    expect(r30xChecksum(1, Buffer.from([1]))).toBe(5);
  });
});

describe('R30x parser on bad input', () => {
  const ok = hex('EF01 FFFFFFFF 07 0003 00 000A');
  it('skips the 0x55 boot byte and a stray 0x00', () => {
    const frames: R30xFrame[] = [];
    const p = new R30xParser({ onFrame: (f) => frames.push(f) });
    p.push(Buffer.concat([Buffer.from([0x00, 0x55]), ok]));
    expect(frames).toHaveLength(1);
    expect(p.stats.discardedBytes).toBe(2);
  });
  it('rejects a bad checksum and recovers on the next frame', () => {
    const frames: R30xFrame[] = [];
    const bad = Buffer.from(ok);
    bad[11] ^= 0xff;
    const p = new R30xParser({ onFrame: (f) => frames.push(f) });
    p.push(Buffer.concat([bad, ok]));
    expect(frames).toHaveLength(1);
    expect(p.stats.checksumErrors).toBe(1);
  });
  it('rejects impossible lengths and foreign addresses without throwing', () => {
    const frames: R30xFrame[] = [];
    const p = new R30xParser({ onFrame: (f) => frames.push(f) });
    p.push(hex('EF01 FFFFFFFF 07 0FFF 00'));
    p.push(encodeAck(0, [], 0x12345678));
    p.push(ok);
    expect(frames).toHaveLength(1);
    expect(p.stats.lengthErrors).toBe(1);
    expect(p.stats.addressMismatches).toBe(1);
  });
  it('accepts a maximal 256-byte data packet (LEN 258)', () => {
    const frames: R30xFrame[] = [];
    const p = new R30xParser({ onFrame: (f) => frames.push(f) });
    const f = encodeR30x(PID.end, Buffer.alloc(256, 7));
    expect(f.readUInt16BE(7)).toBe(258);
    expect(f.length).toBe(267);
    p.push(f);
    expect(frames[0].payload.length).toBe(256);
  });
});

// Frames with random content; the stream is split at random points with random noise between frames.
const r30xFrameArb = fc.record({
  pid: fc.constantFrom(PID.command, PID.data, PID.ack, PID.end),
  payload: fc.uint8Array({ minLength: 1, maxLength: 256 }),
});
/** Noise that cannot contain a frame header (so every injected byte must be discarded). */
const noiseArb = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a.map((b) => (b === 0xef ? 0x00 : b))));

/** `want` appears in `got` in order (other entries may sit between). */
function expectSubsequence(want: string[], got: string[]): void {
  let i = 0;
  for (const g of got) if (i < want.length && g === want[i]) i++;
  expect({ matched: i, got }).toEqual({ matched: want.length, got });
}

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

describe('R30x parser properties (fast-check)', () => {
  it('delivers every frame exactly once in order, whatever the splits and the noise between frames', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(noiseArb, r30xFrameArb), { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30 }), (items, cuts) => {
        const stream = Buffer.concat(items.flatMap(([noise, f]) => [noise, encodeR30x(f.pid, f.payload)]));
        const got: R30xFrame[] = [];
        const p = new R30xParser({ onFrame: (f) => got.push(f) });
        for (const part of splitAt(stream, cuts)) p.push(part);
        expect(got.map((f) => [f.pid, Buffer.from(f.payload).toString('hex')])).toEqual(items.map(([, f]) => [f.pid, Buffer.from(f.payload).toString('hex')]));
        expect(p.stats.discardedBytes).toBe(items.reduce((n, [noise]) => n + noise.length, 0));
        expect(p.pending).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('with arbitrary noise (false headers included) and a rescan when the line goes quiet, every frame arrives', () => {
    const anyNoise = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      // a false header with a plausible packet id and length
      fc.tuple(fc.constantFrom(1, 2, 7, 8), fc.integer({ min: 3, max: 258 }), fc.uint8Array({ maxLength: 20 }))
        .map(([pid, len, tail]) => Uint8Array.from([0xef, 0x01, 0xff, 0xff, 0xff, 0xff, pid, len >> 8, len & 0xff, ...tail])),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(anyNoise, r30xFrameArb), { minLength: 1, maxLength: 8 }), (items) => {
        const got: R30xFrame[] = [];
        const p = new R30xParser({ onFrame: (f) => got.push(f) });
        for (const [noise, f] of items) {
          p.push(noise);
          p.push(encodeR30x(f.pid, f.payload));
          // the line goes quiet after each reply: the driver rescans a partial frame
          for (let guard = 0; p.pending > 0 && guard < 1000; guard++) p.rescan();
          expect(p.pending).toBe(0);
        }
        // A frame checksum is a 16-bit sum: noise plus the bytes after it can, rarely, form a
        // valid frame of its own. What must hold: every real frame arrives, in order.
        const want = items.map(([, f]) => Buffer.from(f.payload).toString('hex'));
        expectSubsequence(want, got.map((f) => Buffer.from(f.payload).toString('hex')));
        expect(got.length).toBeLessThanOrEqual(2 * items.length);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws and never delivers a frame with a bad checksum on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 10 }), (chunks) => {
        const p = new R30xParser({
          onFrame: (f) => {
            expect([1, 2, 7, 8]).toContain(f.pid);
            expect(f.payload.length).toBeGreaterThan(0);
            expect(f.payload.length).toBeLessThanOrEqual(256);
          },
        });
        for (const c of chunks) p.push(c);
        expect(p.pending).toBeLessThanOrEqual(267);
      }),
      { numRuns: 300 },
    );
  });

  it('a corrupted frame is dropped and the next good frame still comes through', () => {
    fc.assert(
      fc.property(r30xFrameArb, r30xFrameArb, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.array(fc.nat(), { maxLength: 10 }), (a, b, where, flip, cuts) => {
        const fa = encodeR30x(a.pid, a.payload);
        const idx = 9 + (where % (fa.length - 9)); // corrupt LEN, payload or checksum
        fa[idx] ^= flip;
        const fb = encodeR30x(b.pid, b.payload);
        const got: R30xFrame[] = [];
        const p = new R30xParser({ onFrame: (f) => got.push(f) });
        for (const part of splitAt(Buffer.concat([fa, fb]), cuts)) p.push(part);
        // the last frame delivered is always b (the corrupted one may at most be replaced by nothing)
        expect(got.length).toBeGreaterThanOrEqual(1);
        const last = got[got.length - 1];
        expect(Buffer.from(last.payload).equals(Buffer.from(b.payload))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('GT-521 worked frames from the reference', () => {
  const cases: Array<[string, Buffer, string]> = [
    ['Open(0)', encodeGtCommand(GT.Open, 0), '55 AA 01 00 00 00 00 00 01 00 01 01'],
    ['CmosLed(1)', encodeGtCommand(GT.CmosLed, 1), '55 AA 01 00 01 00 00 00 12 00 13 01'],
    ['ACK', encodeGtAck(0), '55 AA 01 00 00 00 00 00 30 00 30 01'],
    ['NACK 0x1007', encodeGtNack(0x1007), '55 AA 01 00 07 10 00 00 31 00 48 01'],
    ['ChangeBaud 115200', encodeGtCommand(GT.ChangeBaudrate, 115200), '55 AA 01 00 00 C2 01 00 04 00 C7 01'],
    ['EnrollStart(-1)', encodeGtCommand(GT.EnrollStart, -1), '55 AA 01 00 FF FF FF FF 22 00 1E 05'],
  ];
  for (const [name, got, want] of cases) {
    it(`encodes ${name}`, () => expect(got.toString('hex')).toBe(hex(want).toString('hex')));
    it(`parses ${name}`, () => {
      const frames: GtFrame[] = [];
      const p = new GtParser({ onFrame: (f) => frames.push(f) });
      p.push(hex(want));
      expect(frames).toHaveLength(1);
      const f = frames[0];
      if (f.kind !== 'packet') throw new Error('expected packet');
      expect(encodeGtPacket(f.code, f.parameter).equals(hex(want))).toBe(true);
    });
  }
  it('parses a data packet only when told its length', () => {
    const data = encodeGtData(Buffer.from([1, 2, 3, 4]));
    const frames: GtFrame[] = [];
    const p = new GtParser({ onFrame: (f) => frames.push(f) });
    p.push(data);
    expect(frames).toHaveLength(0);
    p.expect(4);
    p.push(data);
    expect(frames).toEqual([{ kind: 'data', deviceId: 1, data: Buffer.from([1, 2, 3, 4]) }]);
  });
  it('counts R30x headers among garbage (misconfigured model hint)', () => {
    const p = new GtParser({ onFrame: () => undefined });
    p.push(encodeAck(0));
    expect(p.stats.foreignHeaders).toBe(1);
    expect(p.stats.frames).toBe(0);
  });
});

import { encodeGtPacket } from '../../drivers/fingerprint/gt-codec';

describe('GT parser properties (fast-check)', () => {
  const pktArb = fc.record({ code: fc.integer({ min: 0, max: 0xffff }), parameter: fc.integer({ min: -0x80000000, max: 0x7fffffff }) });
  const gtNoise = fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a.map((b) => (b === 0x55 || b === 0x5a ? 0 : b))));
  it('delivers every packet in order through random splits and noise', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(gtNoise, pktArb), { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (items, cuts) => {
        const stream = Buffer.concat(items.flatMap(([n, p]) => [n, encodeGtPacket(p.code, p.parameter)]));
        const got: GtFrame[] = [];
        const p = new GtParser({ onFrame: (f) => got.push(f) });
        for (const part of splitAt(stream, cuts)) p.push(part);
        expect(got.map((f) => (f.kind === 'packet' ? [f.code, f.parameter | 0] : null))).toEqual(items.map(([, x]) => [x.code, x.parameter]));
      }),
      { numRuns: 300 },
    );
  });
  it('with arbitrary noise (false 55 AA headers included) and a quiet-line rescan, every packet arrives', () => {
    const anyNoise = fc.oneof(fc.uint8Array({ maxLength: 30 }), fc.uint8Array({ maxLength: 9 }).map((t) => Uint8Array.from([0x55, 0xaa, ...t])));
    fc.assert(
      fc.property(fc.array(fc.tuple(anyNoise, pktArb), { minLength: 1, maxLength: 8 }), (items) => {
        const got: GtFrame[] = [];
        const p = new GtParser({ onFrame: (f) => got.push(f) });
        for (const [noise, x] of items) {
          p.push(noise);
          p.push(encodeGtPacket(x.code, x.parameter));
          for (let guard = 0; p.pending > 0 && guard < 1000; guard++) p.rescan();
        }
        const want = items.map(([, x]) => `${x.code}:${x.parameter}`);
        expectSubsequence(want, got.map((f) => (f.kind === 'packet' ? `${f.code}:${f.parameter | 0}` : 'data')));
        expect(got.length).toBeLessThanOrEqual(2 * items.length);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects packets that carry another device id', () => {
    const got: GtFrame[] = [];
    const p = new GtParser({ onFrame: (f) => got.push(f) });
    const other = encodeGtPacket(0x30, 5, 2);
    p.push(Buffer.concat([other, encodeGtAck(6)]));
    expect(got).toEqual([{ kind: 'packet', deviceId: 1, parameter: 6, code: 0x30 }]);
  });

  it('a data packet split anywhere arrives intact; corrupt data is rejected', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.array(fc.nat(), { maxLength: 20 }), fc.boolean(), (data, cuts, corrupt) => {
        const pkt = encodeGtData(data);
        if (corrupt) pkt[4 + (cuts[0] ?? 0) % data.length] ^= 0x01;
        const got: GtFrame[] = [];
        const p = new GtParser({ onFrame: (f) => got.push(f) });
        p.expect(data.length);
        for (const part of splitAt(Buffer.concat([pkt, encodeGtAck(7)]), cuts)) p.push(part);
        if (corrupt) {
          expect(got.some((f) => f.kind === 'data')).toBe(false);
          expect(p.stats.checksumErrors).toBeGreaterThanOrEqual(1);
        } else {
          expect(got[0]).toEqual({ kind: 'data', deviceId: 1, data: Buffer.from(data) });
        }
        expect(got[got.length - 1]).toMatchObject({ kind: 'packet', code: 0x30, parameter: 7 });
      }),
      { numRuns: 300 },
    );
  });
});
