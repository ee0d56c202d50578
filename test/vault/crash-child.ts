/**
 * Crash-test child: opens the vault and seals records in a loop until killed.
 * After each durable seal it prints `sealed <recordId> <sha256>` (synchronously),
 * so the parent knows exactly which records the vault promised to keep.
 * argv: dataDir hqPublicPath stationId suite kbPerRecord
 */
import { randomBytes } from 'node:crypto';
import { writeSync } from 'node:fs';
import { v7 as uuidv7 } from 'uuid';
import { Vault } from '../../station/vault';
import { loadStationSigningKey, type EnrollmentRecord, type FingerPosition, type SuiteName } from '../../sync/wire';

async function main(): Promise<void> {
  const [dataDir, hqPublicPath, stationId, suite, kb] = process.argv.slice(2);
  const vault = await Vault.open({ dataDir, stationId, signingKey: loadStationSigningKey(dataDir), hqIdentity: hqPublicPath, suite: suite as SuiteName, reserveBytes: 1024 });
  writeSync(1, 'ready\n');
  const per = Math.max(1, Math.floor((Number(kb) * 1024) / 5));
  for (let i = 1; ; i++) {
    const t = Date.now();
    const r: EnrollmentRecord = {
      recordId: uuidv7(),
      stationId,
      officerId: 'crash-officer',
      kind: i % 5 === 0 ? 'eid-activation' : 'enrollment',
      startedAt: t - 1000,
      completedAt: t,
      details: { surname: 'Crash', givenNames: `Test ${i}`, dateOfBirth: '2000-01-01', sex: 'X' },
      fingerprints: [1, 2, 3, 4].map((p) => ({ position: p as FingerPosition, status: 'captured' as const, png: randomBytes(per), width: 256, height: 288, ppi: 500, quality: 50, attempts: 1 })),
      portrait: { jpeg: randomBytes(per), width: 480, height: 640, metrics: { sharpness: 0.5 } },
    };
    const res = await vault.seal(r);
    writeSync(1, `sealed ${res.recordId} ${res.sha256}\n`);
    if (i % 7 === 0) vault.openBatch(3, 1e9);
    if (i % 11 === 0) vault.audit.append('login', { officerId: `o-${i}` });
  }
}

main().catch((e) => {
  writeSync(2, `crash-child failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(3);
});
