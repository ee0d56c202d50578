/**
 * A stolen booth yields nothing: no personal or biometric bytes at rest (data
 * directory, WAL, SHM, logs, temp files), and nothing on it can open a record.
 * The write paths run in a child process whose TMPDIR/SQLITE_TMPDIR is a directory
 * of this test's own, so the temp-file scan sees exactly what that code wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { Vault, vaultPath } from '../../station/vault';
import { openEnvelope, parseHqPrivateKeys, type HqPrivateJson } from '../../sync/wire';
import { makeParts, makeRecord, makeWorld } from './fixtures';
import { compileChild } from './crash-harness';

type World = Awaited<ReturnType<typeof makeWorld>>;

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out; // vanished or not ours (other tests share /tmp)
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Every encoding a careless writer might use for the marker. */
function needles(marker: Buffer): Buffer[] {
  return [marker, Buffer.from(marker.toString('hex')), Buffer.from(marker.toString('base64').slice(0, -4)), Buffer.from(marker.toString('latin1'), 'utf16le')];
}

function findIn(files: string[], markers: Record<string, Buffer>): string[] {
  const hits: string[] = [];
  for (const f of files) {
    let content: Buffer;
    try {
      content = readFileSync(f);
    } catch {
      continue; // deleted meanwhile by another test
    }
    for (const [name, m] of Object.entries(markers)) {
      for (const n of needles(m)) if (content.includes(n)) hits.push(`${name} in ${f}`);
    }
  }
  return hits;
}

describe('nothing readable at rest', () => {
  let w: World;
  const markers = {
    surname: Buffer.from('ZQXSURNAMEMARKER41'),
    nationalId: Buffer.from('NIDMARKER99887766'),
    png: Buffer.from('\x89FPMARKER\x00\x01\x02\xfe\xfd\xfcFINGER', 'latin1'),
    jpeg: Buffer.from('\xff\xd8JPMARKER\x10\x20\x30PORTRAIT', 'latin1'),
  };
  let child: ReturnType<typeof compileChild>;

  beforeAll(async () => {
    w = await makeWorld('ST-ATREST');
    child = compileChild('at-rest-child.ts');
  }, 120_000);
  afterAll(() => {
    child?.cleanup();
    w?.cleanup();
  });

  it('markers in details, PNGs and JPEG never reach the data dir, WAL, SHM, logs or temp files', async () => {
    // The write paths run in a process whose temp directory is this test's own: every file in it
    // was made by that code (no other program's files count, none is missed).
    const tmp = join(w.root, 'tmp');
    mkdirSync(tmp);
    const hex = Object.fromEntries(Object.entries(markers).map(([k, v]) => [k, v.toString('hex')]));
    const proc = spawn(process.execPath, [child.script, w.dataDir, w.hqPublicPath, w.stationId, JSON.stringify(hex)], {
      env: { ...process.env, TMPDIR: tmp, SQLITE_TMPDIR: tmp },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let openHits: string[] | null = null;
    let openFiles: string[] = [];
    proc.stdout!.on('data', (d) => {
      out += d;
      if (openHits === null && /^open$/m.test(out)) {
        // While open: the WAL and SHM hold the latest pages.
        openFiles = walk(w.dataDir);
        openHits = findIn(openFiles, markers);
        proc.stdin!.write('close\n');
      }
    });
    proc.stderr!.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    expect(code, err).toBe(0);
    const ids = /^done (.+)$/m.exec(out)![1]!.split(',');
    expect(ids).toHaveLength(6);
    expect(out).toMatch(/^refused VAULT_DUPLICATE_RECORD$/m);
    // The WAL the scan above read while the vault was open held the records' pages.
    expect(Number(/^wal (\d+)$/m.exec(out)![1])).toBeGreaterThan(100_000);
    expect(openFiles.some((f) => f.endsWith('vault.db-wal'))).toBe(true);
    expect(openHits).toEqual([]);

    const logFile = join(w.dataDir, 'logs', 'station.log');
    const files = walk(w.dataDir);
    expect(files).toContain(logFile);
    expect(readFileSync(logFile, 'utf8')).toMatch(/record sealed/); // the log was written…
    expect(findIn(files, markers)).toEqual([]); // …without personal data
    expect(findIn(walk(tmp), markers)).toEqual([]);

    // Sanity: the markers are in the sealed bytes, opened at HQ.
    const db = (await import('better-sqlite3')).default(vaultPath(w.dataDir), { readonly: true });
    const row = db.prepare('SELECT e.envelope FROM records r LEFT JOIN envelopes e ON e.seq = r.seq WHERE r.record_id = ?').get(ids[5]) as { envelope: Buffer };
    db.close();
    const { record } = await openEnvelope(row.envelope, { stationPublicKey: w.station.publicKey, hq: w.hq });
    expect(record.details.surname).toBe(markers.surname.toString());
    const fp = record.fingerprints[0];
    expect(fp.status === 'captured' && fp.png.includes(markers.png)).toBe(true);

    // Positive control: the scanner finds a marker written plainly, or as hex, in the temp directory.
    writeFileSync(join(tmp, 'control.bin'), Buffer.concat([Buffer.alloc(100), markers.png, Buffer.alloc(100)]));
    writeFileSync(join(tmp, 'control.txt'), `x${markers.surname.toString('hex')}y`);
    expect(findIn(walk(tmp), markers).sort()).toEqual([`png in ${join(tmp, 'control.bin')}`, `surname in ${join(tmp, 'control.txt')}`]);
  }, 120_000);

  it('nothing in the data dir (keys, vault, hq-public.json) can open a sealed record', async () => {
    const v = await Vault.open({ dataDir: w.dataDir, stationId: w.stationId, signingKey: w.station, hqIdentity: w.hqPublicPath });
    const parts = await makeParts({ fingers: 1 });
    await v.seal(makeRecord(w.stationId, parts));
    await v.close();
    const db = (await import('better-sqlite3')).default(vaultPath(w.dataDir), { readonly: true });
    const { envelope } = db.prepare("SELECT e.envelope FROM records r LEFT JOIN envelopes e ON e.seq = r.seq WHERE r.state = 'sealed' ORDER BY r.seq DESC LIMIT 1").get() as { envelope: Buffer };
    db.close();

    // The HQ secrets do not occur anywhere on the station, in any common encoding.
    const secrets = { x25519: w.hq.hpkeX25519, xwing: w.hq.xWing };
    expect(findIn([...walk(w.dataDir), w.hqPublicPath], secrets)).toEqual([]);

    // Every 32-byte value the station holds, tried as the HQ private key, fails.
    const candidates: Buffer[] = [];
    for (const f of walk(join(w.dataDir, 'keys'))) {
      const pem = readFileSync(f, 'utf8');
      const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
      candidates.push(der.subarray(der.length - 32));
    }
    const pub = JSON.parse(readFileSync(w.hqPublicPath, 'utf8')) as Record<string, string>;
    for (const k of ['hpkeX25519', 'xWing', 'receiptEd25519', 'opsEd25519']) {
      const b = Buffer.from(pub[k], 'base64');
      candidates.push(b.subarray(0, 32), b.subarray(b.length - 32));
    }
    expect(candidates.length).toBeGreaterThanOrEqual(10);
    const real: HqPrivateJson = w.hqPrivateJson;
    for (const c of candidates) {
      const fake = parseHqPrivateKeys({ ...real, hpkeX25519: c.toString('base64'), xWing: c.toString('base64') });
      await expect(openEnvelope(envelope, { stationPublicKey: w.station.publicKey, hq: fake })).rejects.toThrow(/HPKE open failed/);
    }
    // The real key (kept at HQ) does open it.
    await expect(openEnvelope(envelope, { stationPublicKey: w.station.publicKey, hq: w.hq })).resolves.toBeTruthy();
    expect(createPrivateKey(readFileSync(join(w.dataDir, 'keys', 'station-ed25519.key'))).asymmetricKeyType).toBe('ed25519');
  });
});
