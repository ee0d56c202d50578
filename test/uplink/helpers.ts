/**
 * Shared fixtures for the uplink and headquarters tests: keys, sealed records,
 * a station outbox (the real vault when present), an HQ data dir.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, createPrivateKey } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import {
  generateHqKeys, writeHqKeys, loadHqPrivateKeys, loadHqPublicIdentity, generateStationKeyPair, Sealer,
  type HqPublicIdentity,
} from '../../sync/wire';
import type { Outbox } from '../../sync/outbox';
import { SqliteTestOutbox } from './test-outbox';

export interface Fixture {
  root: string;
  hqDir: string;
  stationDir: string;
  hqPublic: HqPublicIdentity;
  stationId: string;
  stationKeyPem: string;
  stationPubPem: string;
  provisionFile: string;
  cleanup(): void;
}

export async function makeFixture(stationId = 'st-test-01'): Promise<Fixture> {
  const root = mkdtempSync(join(tmpdir(), 'uplink-'));
  const hqDir = join(root, 'hq');
  const stationDir = join(root, 'station');
  mkdirSync(stationDir, { recursive: true });
  const keys = await generateHqKeys('test');
  writeHqKeys(join(hqDir, 'keys'), keys);
  const hqPublic = loadHqPublicIdentity(join(hqDir, 'keys', 'hq-public.json'));
  const pair = generateStationKeyPair();
  const provisionFile = join(root, `${stationId}.provision.json`);
  writeFileSync(provisionFile, JSON.stringify({ stationId, unit: 'UNIT-A', publicKey: pair.publicKeyPem, createdAt: new Date().toISOString() }));
  return {
    root, hqDir, stationDir, hqPublic, stationId, stationKeyPem: pair.privateKeyPem, stationPubPem: pair.publicKeyPem, provisionFile,
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export function hqPrivate(f: Fixture) {
  return loadHqPrivateKeys(join(f.hqDir, 'keys'));
}

/** Opens the station outbox used by the tests (a SQLite file under the station dir). */
export function openOutbox(f: Fixture): Outbox & { close(): void; seal(n: number, size: number): Promise<string[]>; states(): Record<string, string>; receiptOf(id: string): Buffer | null } {
  const ob = new SqliteTestOutbox(join(f.stationDir, 'outbox.db'));
  const sealer = new Sealer('x25519-chacha20poly1305', f.hqPublic, createPrivateKey(f.stationKeyPem));
  return Object.assign(ob, {
    async seal(n: number, size: number): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const id = uuidv7();
        const s = await sealer.sealBytes(id, f.stationId, randomBytes(size), Date.now());
        ob.add(s.recordId, s.envelope, s.sha256, s.sealedAt);
        ids.push(id);
      }
      return ids;
    },
  });
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
