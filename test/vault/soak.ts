/**
 * Long crash soak (not run in CI):
 *   npx ts-node --transpile-only test/vault/soak.ts [rounds=1000] [suite=x25519-chacha20poly1305] [kbPerRecord=400]
 * Kills the sealing child with SIGKILL `rounds` times and checks the vault after
 * every kill (see crash-harness.ts). Exit code 0 = no violation.
 */
import { compileChild, crashRounds } from './crash-harness';
import { makeWorld } from './fixtures';

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 1000);
  const suite = process.argv[3] ?? 'x25519-chacha20poly1305';
  const kb = Number(process.argv[4] ?? 400);
  const child = compileChild();
  const w = await makeWorld('ST-SOAK');
  const t0 = Date.now();
  try {
    const s = await crashRounds({
      script: child.script,
      dataDir: w.dataDir,
      hqPublicPath: w.hqPublicPath,
      stationId: w.stationId,
      station: w.station,
      hq: w.hq,
      suite,
      kbPerRecord: kb,
      rounds,
      maxDelayMs: 1000,
      log: (l) => process.stderr.write(`${l}\n`),
    });
    console.log(JSON.stringify({ ...s, suite, kbPerRecord: kb, seconds: Math.round((Date.now() - t0) / 1000) }));
  } finally {
    child.cleanup();
    w.cleanup();
  }
}

main().catch((e) => {
  console.error(`soak FAILED: ${(e as Error).message}`);
  process.exit(1);
});
