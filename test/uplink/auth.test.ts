import { afterEach, describe, expect, it } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startMosquitto } from '../helpers/mosquitto';
import { makeFixture, openOutbox, waitFor } from './helpers';
import { Uplink } from '../../sync/uplink';
import { startHq } from '../../sync/hq/ingest';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try { await c(); } catch { /* best effort */ }
  }
});

describe('a broker that refuses the connection', () => {
  it('logs the reason code clearly, retries with backoff, and delivers once the credentials are right', async () => {
    const broker = await startMosquitto({ users: { 'st-auth': 'right-password', hq: 'hq-password' } });
    cleanups.push(() => broker.dispose());
    const f = await makeFixture('st-auth');
    cleanups.push(() => f.cleanup());
    const hq = await startHq({ brokerUrl: broker.url, dataDir: f.hqDir, workerId: 'w', username: 'hq', password: 'hq-password' });
    cleanups.push(() => hq.stop());
    hq.store.registerStation({ stationId: f.stationId, publicKey: f.stationPubPem });
    await waitFor(() => hq.connected(), 20_000, 'hq connected');
    const ob = await openOutbox(f);
    cleanups.push(() => ob.close());
    const ids = await ob.sealN(3, 1_000);

    const lines: { msg: string; reasonCode?: number; attempt?: number; delayMs?: number }[] = [];
    const sink = new Writable({ write(chunk: Buffer, _e, cb) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as never); cb(); } });
    const logger = pino({ level: 'info' }, sink);
    const bad = new Uplink({ brokerUrl: broker.url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem), hqIdentity: f.hqPublic, username: 'st-auth', password: 'wrong', reconnectBaseMs: 200, reconnectMaxMs: 800, logger });
    cleanups.push(() => bad.stop(1_000));
    await bad.start();
    await waitFor(() => lines.filter((l) => /broker refused the connection: reason code 0x8[67]/.test(l.msg)).length >= 3, 30_000, 'three refusals logged');
    const refusal = lines.find((l) => /broker refused/.test(l.msg))!;
    expect(refusal.reasonCode === 0x86 || refusal.reasonCode === 0x87).toBe(true);
    const attempts = lines.filter((l) => typeof l.attempt === 'number').map((l) => l.attempt!);
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(3);
    expect(bad.status().connected).toBe(false);
    expect(ob.acked()).toBe(0);
    await bad.stop(1_000);

    const good = new Uplink({ brokerUrl: broker.url, stationId: f.stationId, outbox: ob, signingKey: createPrivateKey(f.stationKeyPem), hqIdentity: f.hqPublic, username: 'st-auth', password: 'right-password' });
    cleanups.push(() => good.stop(1_000));
    await good.start();
    await waitFor(() => ob.acked() === ids.length, 30_000, 'acknowledged with the right password');
  });
});
