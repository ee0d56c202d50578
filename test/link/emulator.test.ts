/**
 * The link emulator itself (test/helpers/link.ts) against plain TCP: it must
 * never be faster than the link it claims to be, must push back on a sender
 * instead of buffering without bound, and its faults must do what they say.
 * Only lower bounds on time are asserted (a loaded machine can only be slower).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { startLink, type LinkEmulator } from '../helpers/link';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A TCP sink counting bytes per connection; echoes a byte back for every byte 0x50 ('P') it sees. */
async function sink(): Promise<{ port: number; received: () => number; sockets: Socket[]; closed: () => number }> {
  let received = 0;
  let closed = 0;
  const sockets: Socket[] = [];
  const srv: Server = createServer((s) => {
    sockets.push(s);
    s.on('data', (d: Buffer) => {
      received += d.length;
      if (d.length === 1 && d[0] === 0x50) s.write('p');
    });
    s.on('error', () => undefined);
    s.on('close', () => { closed++; });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); srv.close(() => r()); }));
  const a = srv.address();
  return { port: typeof a === 'object' && a ? a.port : 0, received: () => received, sockets, closed: () => closed };
}

async function link(o: Omit<Parameters<typeof startLink>[0], 'target'>, port: number): Promise<LinkEmulator> {
  const l = await startLink({ target: { port }, ...o });
  cleanups.push(() => l.stop());
  return l;
}

function dial(l: LinkEmulator): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port: l.port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
    cleanups.push(() => { s.destroy(); });
  });
}

async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('link emulator', () => {
  it('delivers every byte no faster than its rate, and pushes back on the sender instead of buffering', async () => {
    const sk = await sink();
    const rate = 4_000_000; // 500 KB/s
    const l = await link({ upBitsPerSec: rate, rttMs: 50, queueBytes: 64 * 1024 }, sk.port);
    const s = await dial(l);
    const total = 1024 * 1024;
    const t0 = Date.now();
    s.write(Buffer.alloc(total, 7));
    await until(() => sk.received() === total, 'all bytes at the sink');
    const elapsed = Date.now() - t0;
    // serialization alone takes total / rate; the handshake adds a round trip, propagation half of one
    expect(elapsed).toBeGreaterThanOrEqual((total * 8 * 1000) / rate + 50 + 25 - 5);
    const st = l.stats();
    expect(st.up.accepted).toBe(total);
    expect(st.up.delivered).toBe(total);
    expect(st.up.lost).toBe(0);
    // the link queued at most its limit plus the one socket read that crossed it: the rest waited in the
    // sender's own socket (back-pressure), as on a real modem. Measured on the link's own clock, so a
    // late timer on a loaded machine cannot change it; a link that buffered everything would queue ~1 MiB.
    expect(st.up.pauses).toBeGreaterThan(0);
    expect(st.up.maxQueued).toBeLessThanOrEqual(64 * 1024 + 64 * 1024);
  });

  it('a round trip takes at least the configured RTT, and jitter never reorders bytes', async () => {
    const sk = await sink();
    const l = await link({ upBitsPerSec: 10_000_000, rttMs: 120, jitterMs: 40 }, sk.port);
    const s = await dial(l);
    let got = '';
    s.on('data', (d: Buffer) => { got += d.toString(); });
    const t0 = Date.now();
    s.write('P');
    await until(() => got.length === 1, 'echo');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(120 + 120 - 5); // handshake + one round trip

    // ordered delivery under jitter: a numbered stream arrives in order
    const sk2 = await sink();
    const l2 = await link({ upBitsPerSec: 20_000_000, rttMs: 20, jitterMs: 30 }, sk2.port);
    const s2 = await dial(l2);
    const chunks: Buffer[] = [];
    await until(() => sk2.sockets.length === 1, 'connection at the sink');
    sk2.sockets[0]!.on('data', (d: Buffer) => chunks.push(d));
    const msg = Buffer.alloc(200_000);
    for (let i = 0; i < msg.length; i += 4) msg.writeUInt32BE(i / 4, i);
    for (let i = 0; i < msg.length; i += 1000) s2.write(msg.subarray(i, i + 1000));
    await until(() => sk2.received() === msg.length, 'numbered stream');
    expect(Buffer.concat(chunks).equals(msg)).toBe(true);
  });

  it('drop (reset) cuts both ends at once and counts what was in transit as lost', async () => {
    const sk = await sink();
    const l = await link({ upBitsPerSec: 800_000, rttMs: 100 }, sk.port); // 100 KB/s: most of 200 KB still queued
    const s = await dial(l);
    const closedAtStation = new Promise<string>((resolve) => {
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      s.on('close', () => resolve('close'));
    });
    s.write(Buffer.alloc(200_000, 1));
    await until(() => sk.received() > 0, 'first bytes at the sink');
    l.drop();
    expect(await closedAtStation).toBe('ECONNRESET');
    await until(() => sk.closed() === 1, 'the sink side closed too');
    const st = l.stats();
    expect(st.drops).toBe(1);
    expect(st.up.lost).toBeGreaterThan(0);
    expect(st.up.delivered + st.up.lost).toBe(st.up.accepted);
    expect(sk.received()).toBe(st.up.delivered);
    expect(l.openConnections()).toBe(0);
  });

  it('blackhole: the flow stays open and silently eats everything', async () => {
    const sk = await sink();
    const l = await link({ upBitsPerSec: 10_000_000, rttMs: 20 }, sk.port);
    const s = await dial(l);
    s.write('x');
    await until(() => sk.received() === 1, 'first byte');
    l.drop('blackhole');
    let closed = false;
    s.on('close', () => { closed = true; });
    s.write(Buffer.alloc(10_000));
    // a fresh connection through the same link still works: it is the proof the old flow's bytes would have had time
    const s2 = await dial(l);
    s2.write('yz');
    await until(() => sk.received() === 3, 'the new connection\'s bytes');
    expect(closed).toBe(false);
    expect(sk.sockets.length).toBe(2);
  });

  it('outage refuses connections for its length; stall holds bytes back without cutting', async () => {
    const sk = await sink();
    const l = await link({ upBitsPerSec: 10_000_000, rttMs: 20 }, sk.port);
    l.outage(400);
    const t0 = Date.now();
    const refused = await new Promise<string>((resolve) => {
      const s = connect({ port: l.port, host: '127.0.0.1' });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      s.on('close', () => resolve('close'));
    });
    expect(refused).toBe('ECONNRESET');
    expect(l.stats().refused).toBe(1);
    await until(() => Date.now() - t0 >= 400, 'outage over');
    const s = await dial(l);
    s.write('a');
    await until(() => sk.received() === 1, 'byte after the outage');

    l.stall(300);
    const ts = Date.now();
    s.write('b');
    await until(() => sk.received() === 2, 'byte after the stall');
    expect(Date.now() - ts).toBeGreaterThanOrEqual(300 - 5);
    expect(l.openConnections()).toBe(1);
  });
});
