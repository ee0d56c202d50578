/**
 * Kill-and-restart harness shared by the crash test (CI, ≥ 50 kills) and the
 * soak script (test/vault/soak.ts, long runs). The child is compiled once with
 * tsc into node_modules/.cache so each restart is a plain, fast `node` start.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { openEnvelope, verifyAuditChain, type HqPrivateKeys, type StationSigningKey } from '../../sync/wire';
import { vaultPath } from '../../station/vault';

const REPO = resolve(__dirname, '..', '..');

/** Compiles test/vault/<file> (and what it imports) once, for plain `node` starts. */
export function compileChild(file = 'crash-child.ts'): { script: string; cleanup: () => void } {
  const cache = join(REPO, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const out = mkdtempSync(join(cache, 'vault-crash-child-'));
  const tsc = join(REPO, 'node_modules', '.bin', 'tsc');
  const r = spawnSync(
    tsc,
    ['--noCheck', '--outDir', out, '--rootDir', REPO, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--esModuleInterop', '--skipLibCheck', '--types', 'node', join(REPO, 'test', 'vault', file)],
    { cwd: REPO, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`compiling the crash child failed:\n${r.stdout}\n${r.stderr}`);
  return { script: join(out, 'test', 'vault', file.replace(/\.ts$/, '.js')), cleanup: () => rmSync(out, { recursive: true, force: true }) };
}

export interface CrashOptions {
  script: string;
  dataDir: string;
  hqPublicPath: string;
  stationId: string;
  station: StationSigningKey;
  hq: HqPrivateKeys;
  suite?: string;
  kbPerRecord?: number;
  rounds: number;
  /** Upper bound of the random delay before the kill, after the life's first durable seal (ms). */
  maxDelayMs?: number;
  log?: (line: string) => void;
}

export interface CrashSummary {
  kills: number;
  killedBeforeReady: number;
  /** Lives killed at a random moment after their first durable seal (every round but each 7th). */
  killedAfterSeal: number;
  reported: number;
  stored: number;
  auditEntries: number;
}

interface Life {
  child: ChildProcess;
  reported: { id: string; sha: string }[];
  ready: Promise<boolean>;
  /** The life's first `sealed` line (false: it exited first). */
  firstSeal: Promise<boolean>;
  exited: Promise<void>;
  stderr: string[];
}

function startChild(o: CrashOptions): Life {
  const child = spawn(process.execPath, [o.script, o.dataDir, o.hqPublicPath, o.stationId, o.suite ?? 'x25519-chacha20poly1305', String(o.kbPerRecord ?? 40)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const reported: { id: string; sha: string }[] = [];
  const stderr: string[] = [];
  let buf = '';
  let markReady: (v: boolean) => void = () => {};
  const ready = new Promise<boolean>((r) => (markReady = r));
  let markSealed: (v: boolean) => void = () => {};
  const firstSeal = new Promise<boolean>((r) => (markSealed = r));
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === 'ready') markReady(true);
      else if (line.startsWith('sealed ')) {
        const [, id, sha] = line.split(' ');
        reported.push({ id, sha });
        markSealed(true);
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => stderr.push(d));
  const exited = new Promise<void>((r) => child.once('exit', () => {
    markReady(false);
    markSealed(false);
    r();
  }));
  return { child, reported, ready, firstSeal, exited, stderr };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `rounds` lives of the child, each ended by SIGKILL at a random moment,
 * and checks the vault after every one. Throws with a precise message on the
 * first violation.
 */
export async function crashRounds(o: CrashOptions): Promise<CrashSummary> {
  const promised = new Map<string, string>(); // recordId → sha256 the child reported
  const verified = new Set<string>();
  let killedBeforeReady = 0;
  let killedAfterSeal = 0;
  for (let round = 1; round <= o.rounds; round++) {
    const life = startChild(o);
    // Every 7th life is killed during start-up / open / migration; the others at a random moment
    // after their first durable seal, so every such life interrupts sealing however slow the machine.
    const early = round % 7 === 0;
    if (early) {
      await Promise.race([sleep(Math.random() * 400), life.exited]);
    } else {
      if (!(await life.ready) || !(await life.firstSeal)) {
        life.child.kill('SIGKILL');
        await life.exited;
        throw new Error(`round ${round}: child exited before its first seal (code ${life.child.exitCode}): ${life.stderr.join('').slice(0, 2000)}`);
      }
      await sleep(Math.random() * (o.maxDelayMs ?? 250));
      killedAfterSeal += 1;
    }
    const wasReady = await Promise.race([life.ready, Promise.resolve(false)]);
    if (!wasReady) killedBeforeReady += 1;
    if (life.child.exitCode !== null) throw new Error(`round ${round}: child exited by itself (code ${life.child.exitCode}): ${life.stderr.join('').slice(0, 2000)}`);
    life.child.kill('SIGKILL');
    await life.exited;
    for (const r of life.reported) promised.set(r.id, r.sha);

    // --- checks after every kill
    const path = vaultPath(o.dataDir);
    if (!existsSync(path)) {
      // killed before the child created its vault: legitimate only while nothing was reported sealed
      if (promised.size > 0) throw new Error(`round ${round}: vault file ${path} missing after records were reported sealed`);
      continue;
    }
    const db = new Database(path, { fileMustExist: true });
    try {
      const ic = db.pragma('integrity_check', { simple: true });
      if (ic !== 'ok') throw new Error(`round ${round}: integrity_check = ${String(ic)}`);
      const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'records'").get();
      if (!hasTable) {
        if (promised.size > 0) throw new Error(`round ${round}: records table missing`);
        continue;
      }
      const dups = db.prepare('SELECT record_id, COUNT(*) AS n FROM records GROUP BY record_id HAVING n > 1').all();
      if (dups.length) throw new Error(`round ${round}: duplicated records ${JSON.stringify(dups)}`);
      const dupSha = db.prepare('SELECT sha256, COUNT(*) AS n FROM records GROUP BY sha256 HAVING n > 1').all();
      if (dupSha.length) throw new Error(`round ${round}: duplicated envelopes ${JSON.stringify(dupSha)}`);
      const get = db.prepare('SELECT e.envelope, r.sha256, r.state FROM records r LEFT JOIN envelopes e ON e.seq = r.seq WHERE r.record_id = ?');
      for (const [id, sha] of promised) {
        const row = get.get(id) as { envelope: Buffer | null; sha256: string; state: string } | undefined;
        if (!row) throw new Error(`round ${round}: record ${id} was reported sealed but is missing`);
        if (row.sha256 !== sha) throw new Error(`round ${round}: record ${id} hash changed`);
        if (verified.has(id)) continue;
        if (!row.envelope) throw new Error(`round ${round}: record ${id} lost its ciphertext (state ${row.state})`);
        const { record } = await openEnvelope(row.envelope, { stationPublicKey: o.station.publicKey, hq: o.hq });
        if (record.recordId !== id) throw new Error(`round ${round}: record ${id} opened to ${record.recordId}`);
        verified.add(id);
      }
    } finally {
      db.close();
    }
    o.log?.(`round ${round}: ${life.reported.length} sealed this life, ${promised.size} total, all present and opening`);
  }
  // Final: the audit chain survived every kill intact.
  const db = new Database(vaultPath(o.dataDir), { readonly: true });
  let stored: number;
  let auditEntries: number;
  try {
    stored = (db.prepare('SELECT COUNT(*) AS n FROM records').get() as { n: number }).n;
    const rows = db.prepare('SELECT seq, ts, kind, data, prev_hash, hash, sig FROM audit ORDER BY seq').all() as {
      seq: number; ts: number; kind: string; data: string; prev_hash: string; hash: string; sig: string | null;
    }[];
    auditEntries = rows.length;
    const entries = rows.map((r) => ({ seq: r.seq, ts: r.ts, kind: r.kind as never, data: JSON.parse(r.data), prevHash: r.prev_hash, hash: r.hash, ...(r.sig ? { sig: r.sig } : {}) }));
    const res = verifyAuditChain(entries, o.station.publicKey, { stationId: o.stationId });
    if (!res.ok) throw new Error(`audit chain broken after crashes: ${res.error}`);
  } finally {
    db.close();
  }
  return { kills: o.rounds, killedBeforeReady, killedAfterSeal, reported: promised.size, stored, auditEntries };
}
