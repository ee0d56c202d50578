/**
 * `npm run bench -- link`: draining a backlog over a poor mobile link (#21).
 *
 * Station (real vault + uplink) → link emulator (test/helpers/link.ts) → real
 * Mosquitto → headquarters ingest, for each link:
 *   - 2 Mbit/s up, 300 ms round trip, every connection reset every 30 s
 *   - 5 Mbit/s up, 100 ms round trip, every connection reset every 30 s
 * with 100 records of 400 KB (LINK_BENCH_RECORDS / LINK_BENCH_PORTRAIT change it).
 *
 * The physical bound is measured in the same run, through a fresh emulator with
 * the same settings and the same drop schedule: bare TCP pushing the same number
 * of bytes to a sink, redialling the moment a connection is cut and resuming at
 * the exact byte the sink has (read from the sink's own counter, which no real
 * protocol could know for free: the bound is generous to TCP).
 *
 * ratio = uplink goodput (record bytes acknowledged by headquarters' signed receipts
 * per second, from start to the last receipt) / bare goodput, worst of the links;
 * goal ≥ 0.9. resentFraction = batch bytes the uplink sent again / record bytes,
 * worst of the links; goal ≤ 0.05.
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { createServer, connect, type Socket } from 'node:net';
import { startMosquitto } from '../helpers/mosquitto';
import { startLink, type LinkOptions } from '../helpers/link';
import { makeFixture, openOutbox, type Fixture } from '../uplink/helpers';
import { Uplink } from '../../sync/uplink';
import { startHq } from '../../sync/hq/ingest';

const RECORDS = Number(process.env.LINK_BENCH_RECORDS ?? 100);
const PORTRAIT = Number(process.env.LINK_BENCH_PORTRAIT ?? 400_000);
const DROP_EVERY_MS = Number(process.env.LINK_BENCH_DROP_MS ?? 30_000);

interface Scenario { name: string; bps: number; rttMs: number }
const SCENARIOS: Scenario[] = [
  { name: '2mbit-300ms', bps: 2_000_000, rttMs: 300 },
  { name: '5mbit-100ms', bps: 5_000_000, rttMs: 100 },
];

function linkOpts(s: Scenario, port: number): LinkOptions {
  return { target: { port }, upBitsPerSec: s.bps, downBitsPerSec: s.bps, rttMs: s.rttMs, dropEveryMs: DROP_EVERY_MS };
}

/** Bare TCP through the emulator: ms to deliver `total` bytes, with the link's drops. */
async function bareTcp(s: Scenario, total: number): Promise<{ ms: number; connections: number }> {
  let received = 0;
  const sockets = new Set<Socket>();
  const sink = createServer((c) => {
    sockets.add(c);
    c.on('data', (d: Buffer) => { received += d.length; });
    c.on('error', () => undefined);
    c.on('close', () => sockets.delete(c));
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
  const a = sink.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  const link = await startLink(linkOpts(s, port));
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  let connections = 0;
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve) => {
    const dial = (): void => {
      if (received >= total) { resolve(); return; }
      connections++;
      const c = connect({ host: '127.0.0.1', port: link.port, noDelay: true });
      let offset = received; // resume at the byte the sink has
      let closed = false;
      const pump = (): void => {
        while (!closed && offset < total) {
          const n = Math.min(chunk.length, total - offset);
          offset += n;
          if (!c.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { c.once('drain', pump); return; }
        }
      };
      c.on('connect', pump);
      c.on('error', () => undefined);
      c.on('close', () => { closed = true; if (received < total) setImmediate(dial); });
    };
    const done = setInterval(() => { if (received >= total) { clearInterval(done); resolve(); } }, 5);
    dial();
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await link.stop();
  for (const c of sockets) c.destroy();
  await new Promise<void>((r) => sink.close(() => r()));
  return { ms, connections };
}

async function throughUplink(s: Scenario, f: Fixture, brokerPort: number, brokerUrl: string): Promise<Record<string, number | null>> {
  const hq = await startHq({ brokerUrl, dataDir: f.hqDir, workerId: `w-${s.name}` });
  const prov = JSON.parse(readFileSync(f.provisionFile, 'utf8')) as { stationId: string; unit: string; publicKey: string };
  hq.store.registerStation({ stationId: prov.stationId, unit: prov.unit, publicKey: prov.publicKey });
  while (!hq.connected()) await new Promise((r) => setTimeout(r, 20));
  const ob = await openOutbox(f);
  await ob.sealN(RECORDS, PORTRAIT);
  const recordBytes = (ob as unknown as { db: { prepare(q: string): { get(): { n: number } } } }).db.prepare("SELECT COALESCE(SUM(size), 0) AS n FROM records WHERE state = 'sealed'").get().n;
  const stored = new Map<string, number>();
  hq.events.on('record', (e: { recordId: string; status: string }) => { if (e.status === 'stored') stored.set(e.recordId, (stored.get(e.recordId) ?? 0) + 1); });
  const link = await startLink(linkOpts(s, brokerPort));
  const up = new Uplink({
    brokerUrl: link.url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem),
    hqIdentity: f.hqPublic, dataDir: f.stationDir, receiptTimeoutMs: 60_000,
  });
  const done = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('drain over the link did not finish in 30 min')), 30 * 60_000);
    up.on('acknowledged', () => { if (ob.acked() >= RECORDS) { clearTimeout(t); resolve(); } });
  });
  const t0 = process.hrtime.bigint();
  await up.start();
  await done;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const st = up.status();
  const ls = link.stats();
  await up.stop();
  await link.stop();
  await hq.stop();
  const once = stored.size === RECORDS && [...stored.values()].every((n) => n === 1);
  ob.close();
  if (!once) throw new Error(`records stored at headquarters: ${stored.size} of ${RECORDS}, some more than once: ${[...stored.values()].some((n) => n > 1)}`);
  return {
    recordBytes, ms: Math.round(ms), bytesSent: st.bytesSent, bytesResent: st.bytesResent, drops: ls.drops, connections: ls.connections,
    linkLostBytes: ls.up.lost, bandwidthBps: st.link.bandwidthBps === null ? null : Math.round(st.link.bandwidthBps), minRttMs: st.link.minRttMs,
    windowBytes: st.link.windowBytes, frameBytes: st.link.frameBytes,
  };
}

export async function run(): Promise<void> {
  const broker = await startMosquitto();
  const out: Record<string, unknown>[] = [];
  try {
    for (const s of SCENARIOS) {
      const f = await makeFixture(`bench-link-${s.name}`);
      try {
        const u = await throughUplink(s, f, broker.port, broker.url);
        const bytes = u.recordBytes!;
        const bare = await bareTcp(s, bytes);
        const uplinkBps = (bytes * 1000) / u.ms!;
        const bareBps = (bytes * 1000) / bare.ms;
        const row = {
          link: s.name, records: RECORDS, recordBytes: bytes,
          uplinkMs: u.ms, bareMs: Math.round(bare.ms), uplinkKBps: Math.round(uplinkBps / 1000), bareKBps: Math.round(bareBps / 1000),
          linkKBps: s.bps / 8000, ratio: Number((uplinkBps / bareBps).toFixed(3)), resentFraction: Number((u.bytesResent! / bytes).toFixed(4)),
          bytesResent: u.bytesResent, drops: u.drops, bareConnections: bare.connections, uplinkConnections: u.connections,
          estBandwidthKBps: u.bandwidthBps === null ? null : Math.round(u.bandwidthBps / 1000), estMinRttMs: u.minRttMs, windowBytes: u.windowBytes, frameBytes: u.frameBytes,
        };
        console.error(`# ${s.name}: uplink ${row.uplinkKBps} KB/s in ${row.uplinkMs} ms, bare TCP ${row.bareKBps} KB/s in ${row.bareMs} ms (link ${row.linkKBps} KB/s), ratio ${row.ratio}, resent ${(row.resentFraction * 100).toFixed(2)} % over ${row.drops} drops`);
        out.push(row);
      } finally {
        f.cleanup();
      }
    }
  } finally {
    await broker.dispose();
  }
  const ratio = Math.min(...out.map((r) => r.ratio as number));
  const resent = Math.max(...out.map((r) => r.resentFraction as number));
  console.log(JSON.stringify({ bench: 'link', ratio, goal: 0.9, better: 'higher', resentFraction: resent, resentGoal: 0.05, dropEveryMs: DROP_EVERY_MS, scenarios: out }));
}
