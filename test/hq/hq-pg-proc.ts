/**
 * One `hq run`-like ingest worker in its own process on PostgreSQL (for tests
 * that kill it with SIGKILL). argv: <brokerUrl> <dataDir> <databaseUrl> <workerId>
 * Prints "ready" once subscribed, "db down" / "db up" when it loses and regains the database.
 */
import pino from 'pino';
import { startHq } from '../../sync/hq/ingest';

async function main(): Promise<void> {
  const [brokerUrl, dataDir, url, workerId] = process.argv.slice(2) as [string, string, string, string];
  const hq = await startHq({ brokerUrl, dataDir, workerId, database: { url, poolSize: 3 }, databaseRetryMs: 300, ...(process.env.HQ_PROC_LOG ? { logger: pino({ level: process.env.HQ_PROC_LOG }, pino.destination(2)) } : {}) });
  hq.events.on('connected', () => process.stdout.write('ready\n'));
  hq.events.on('database', (e: { up: boolean }) => process.stdout.write(e.up ? 'db up\n' : 'db down\n'));
  let receipts = 0; let committed = 0; let failed = 0;
  hq.events.on('receipt', () => { receipts++; });
  hq.events.on('commit', (e: { batches: number; failed: number }) => { committed += e.batches; failed += e.failed; });
  if (process.env.HQ_PROC_LOG) setInterval(() => process.stderr.write(`stats receipts=${receipts} committed=${committed} failed=${failed}\n`), 5000).unref();
  process.on('SIGTERM', () => { void hq.stop().then(() => process.exit(0)); });
}
main().catch((e: unknown) => { process.stderr.write(`${(e as Error).stack ?? String(e)}\n`); process.exit(1); });
