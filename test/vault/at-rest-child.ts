/**
 * At-rest child: runs the station's write paths (vault with a file logger, seals,
 * a batch, a receipt, a refused duplicate) in a process of its own, whose TMPDIR
 * and SQLITE_TMPDIR the parent points at a directory of the test's own, so the
 * parent can scan every temporary file this code made and nothing else.
 * argv: dataDir hqPublicPath stationId markersJson(hex values)
 * Prints `wal <bytes>`, `refused <code>` and `open`, waits for a line on stdin (the parent
 * scans while the vault is open), closes, prints `done <recordId,...>`.
 */
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../station/log';
import { Vault, vaultPath } from '../../station/vault';
import { loadStationSigningKey } from '../../sync/wire';
import { statSync } from 'node:fs';
import { makeParts, makeRecord } from './fixtures';

async function main(): Promise<void> {
  const [dataDir, hqPublicPath, stationId, markersJson] = process.argv.slice(2);
  const m = Object.fromEntries(Object.entries(JSON.parse(markersJson!) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'hex')]));
  const logger = createLogger({ destination: join(dataDir!, 'logs', 'station.log'), level: 'trace', name: 'station' });
  const v = await Vault.open({ dataDir: dataDir!, stationId: stationId!, signingKey: loadStationSigningKey(dataDir!), hqIdentity: hqPublicPath!, reserveBytes: 1024, logger });
  const parts = await makeParts({ markers: { png: m.png!, jpeg: m.jpeg! }, fingers: 4 });
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) {
    const r = makeRecord(stationId!, parts, { surname: m.surname!.toString() });
    r.details.nationalId = m.nationalId!.toString();
    ids.push((await v.seal(r)).recordId);
  }
  const b = v.openBatch(3, 1e9)!;
  v.acknowledge(b.batchId, Buffer.from('receipt'), b.items.map((i) => ({ recordId: i.recordId, sha256: i.sha256, status: 'stored' as const })));
  const dup = makeRecord(stationId!, parts, { surname: m.surname!.toString(), recordId: ids[4] });
  let refused = '';
  try {
    await v.seal(dup);
  } catch (e) {
    refused = (e as { code?: string }).code ?? 'error';
  }
  writeSync(1, `wal ${statSync(`${vaultPath(dataDir!)}-wal`).size}\nrefused ${refused}\nopen\n`);
  // The parent scans the data directory (WAL and SHM included) while the vault is open.
  await new Promise<void>((r) => process.stdin.once('data', () => r()));
  await v.close();
  logger.flush?.();
  writeSync(1, `done ${ids.join(',')}\n`);
}

main().then(() => setTimeout(() => process.exit(0), 100), (e) => {
  writeSync(2, `at-rest child failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(3);
});
