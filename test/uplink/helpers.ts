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
  generateHqKeys, writeHqKeys, loadHqPrivateKeys, loadHqPublicIdentity, generateStationKeyPair,
  type HqPublicIdentity,
} from '../../sync/wire';
import { Vault, type VaultOptions, type VaultRetention } from '../../station/vault';
import type { EnrollmentRecord } from '../../sync/wire';

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

export type TestOutbox = Vault & {
  ids: string[];
  sealN(n: number, size: number): Promise<string[]>;
  /** recordId → vault state for every record sealed through this helper. */
  states(): Record<string, string>;
  receiptOf(id: string): Buffer | null;
  /** Records acknowledged or already released (the vault releases at once by default). */
  acked(): number;
};

export function makeRecord(stationId: string, portraitBytes: number): EnrollmentRecord {
  const now = Date.now();
  return {
    recordId: uuidv7(), stationId, officerId: 'officer-1', kind: 'enrollment', startedAt: now - 60_000, completedAt: now,
    details: { surname: 'TEST', givenNames: 'PERSON', dateOfBirth: '1990-01-01', sex: 'X' },
    fingerprints: [{ position: 6, status: 'exception', exception: 'unable', reason: 'test' }],
    portrait: { jpeg: randomBytes(portraitBytes), width: 480, height: 640, metrics: { sharpness: 1 } },
  };
}

/** Opens the station's real vault (station/vault) as the outbox under test. */
export async function openOutbox(f: Fixture, retention?: VaultRetention, extra: Partial<VaultOptions> = {}): Promise<TestOutbox> {
  const vault = await Vault.open({ dataDir: f.stationDir, stationId: f.stationId, signingKey: createPrivateKey(f.stationKeyPem), hqIdentity: f.hqPublic, ...(retention ? { retention } : {}), ...extra });
  const ids: string[] = [];
  return Object.assign(vault, {
    ids,
    async sealN(n: number, size: number): Promise<string[]> {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await vault.seal(makeRecord(f.stationId, size));
        out.push(r.recordId);
        ids.push(r.recordId);
      }
      return out;
    },
    states(): Record<string, string> {
      return Object.fromEntries(ids.map((id) => [id, vault.recordState(id)?.state ?? 'missing']));
    },
    receiptOf(id: string): Buffer | null {
      const st = vault.recordState(id);
      return st?.batchId ? vault.receipt(st.batchId) : null;
    },
    acked(): number {
      const s = vault.stats();
      return s.acknowledged + s.released;
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
