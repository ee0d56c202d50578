/**
 * A rollback across a vault migration (#21 item 5, docs/updates.md): each migration records
 * `readable_by`, the oldest schema whose code can still use the file. This release opens a vault a
 * newer release migrated additively (readable by this schema) as it is — records sealed before and
 * after the rollback all there, nothing downgraded — and still refuses (VAULT_TOO_NEW) one the newer
 * release restructured, or one without the marker.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import pino from 'pino';
import { Writable } from 'node:stream';
import { SCHEMA_VERSION } from '../../station/vault/schema';
import { Vault, vaultPath } from '../../station/vault';
import { makeParts, makeRecord, makeWorld, type RecordParts } from './fixtures';

type World = Awaited<ReturnType<typeof makeWorld>>;

describe('vault schema across a rollback', () => {
  let w: World;
  let parts: RecordParts;
  let logged: string;
  const logger = () => pino({ level: 'warn' }, new Writable({ write(c, _e, cb) { logged += c.toString(); cb(); } }));
  const open = () => Vault.open({ dataDir: w.dataDir, stationId: w.stationId, signingKey: w.station, hqIdentity: w.hqPublicPath, reserveBytes: 1024 * 1024, logger: logger() });
  const meta = (k: string): string | undefined => {
    const db = new Database(vaultPath(w.dataDir), { readonly: true });
    try { return (db.prepare('SELECT value FROM meta WHERE key = ?').get(k) as { value: string } | undefined)?.value; } finally { db.close(); }
  };
  /** What a newer release's migration would do to the file. */
  const newerRelease = (readableBy: number | null, sql: string): void => {
    const db = new Database(vaultPath(w.dataDir));
    db.exec(sql);
    if (readableBy === null) db.prepare(`DELETE FROM meta WHERE key = 'readable_by'`).run();
    else db.prepare(`UPDATE meta SET value = ? WHERE key = 'readable_by'`).run(String(readableBy));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
  };

  beforeEach(async () => { w = await makeWorld(); parts = await makeParts({ fingers: 2 }); logged = ''; });
  afterEach(() => w.cleanup());

  it('a new vault says which schema can read it', async () => {
    await (await open()).close();
    expect(meta('readable_by')).toBe(String(SCHEMA_VERSION));
  });

  it('after an additive migration by a newer release, this release opens it as it is and keeps working', async () => {
    const v1 = await open();
    const before = await v1.seal(makeRecord(w.stationId, parts));
    await v1.close();
    newerRelease(SCHEMA_VERSION, 'CREATE TABLE future_notes (id INTEGER PRIMARY KEY, note TEXT) STRICT; ALTER TABLE records ADD COLUMN future_col TEXT;');
    const v2 = await open();
    expect(logged).toMatch(new RegExp(`the vault has schema ${SCHEMA_VERSION + 1} from a newer release, which stays readable by schema ${SCHEMA_VERSION}: opened as it is`));
    const after = await v2.seal(makeRecord(w.stationId, parts));
    const b = v2.openBatch(10, 1e9)!;
    expect(b.items.map((i) => i.recordId).sort()).toEqual([before.recordId, after.recordId].sort());
    await v2.close();
    const db = new Database(vaultPath(w.dataDir), { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1); // never downgraded
    expect(db.prepare(`SELECT name FROM sqlite_master WHERE name = 'future_notes'`).get()).toBeDefined();
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });

  it('a newer release that restructured the vault, or left no marker: refused, file untouched', async () => {
    await (await open()).close();
    newerRelease(SCHEMA_VERSION + 1, 'CREATE TABLE restructured (id INTEGER PRIMARY KEY) STRICT;');
    await expect(open()).rejects.toMatchObject({ code: 'VAULT_TOO_NEW', message: expect.stringMatching(new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer than this software understands \\(${SCHEMA_VERSION}\\), and the newer version's changes are not readable by it \\(readable by schema ${SCHEMA_VERSION + 1} and later\\)`)) });
    expect(meta('readable_by')).toBe(String(SCHEMA_VERSION + 1));
  });

  it('no marker (a release from before it): refused as before', async () => {
    await (await open()).close();
    newerRelease(null, 'CREATE TABLE other (id INTEGER PRIMARY KEY) STRICT;');
    await expect(open()).rejects.toMatchObject({ code: 'VAULT_TOO_NEW' });
  });
});
