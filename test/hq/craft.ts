/**
 * Envelopes headquarters must refuse, each built the way a broken or hostile
 * station would: signed with the station's real key (so only what is wrong
 * inside decides), or laid out wrongly. And a way to put such an envelope into
 * a station's real vault as if the station had sealed it, so the refusal is
 * seen end to end: the record stays at the station with the reason.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import Database from 'better-sqlite3';
import { v7 as uuidv7 } from 'uuid';
import { encodeCbor, type CborValue } from '../../sync/wire/cbor';
import { encodeRecord, type EnrollmentRecord } from '../../sync/wire/record';
import { Sealer, parseEnvelope } from '../../sync/wire/envelope';
import type { HqPublicIdentity } from '../../sync/wire/keys';
import { vaultPath } from '../../station/vault';
import { makeRecord } from '../uplink/helpers';

export interface Crafted {
  recordId: string;
  envelope: Buffer;
  sha256: string;
  sealedAt: number;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Replaces an envelope's signature with a valid one by `key` over its (changed) header and body. */
export function resign(envelope: Buffer, key: KeyObject): Buffer {
  const body = envelope.subarray(0, envelope.length - 64);
  // the signed message is context || SHA-256(header || body); parseEnvelope would refuse a malformed
  // one, so hash the bytes directly (same as signedMessage for a well-formed envelope)
  const digest = createHash('sha256').update(body).digest();
  const msg = Buffer.concat([Buffer.from('enroll-station/record-sig/v1\0', 'ascii'), digest]);
  return Buffer.concat([body, sign(null, msg, key)]);
}

function done(recordId: string, envelope: Buffer, sealedAt: number): Crafted {
  return { recordId, envelope, sha256: sha(envelope), sealedAt };
}

async function sealPlaintext(stationId: string, recordId: string, plaintext: Buffer, hq: HqPublicIdentity, key: KeyObject, sealedAt = Date.now()): Promise<Crafted> {
  const s = await new Sealer('x25519-chacha20poly1305', hq, key).sealBytes(recordId, stationId, plaintext, sealedAt);
  return done(recordId, s.envelope, sealedAt);
}

function asCbor(r: EnrollmentRecord, patch: Record<string, unknown> = {}): CborValue {
  return { v: 1, ...(r as unknown as Record<string, CborValue>), ...(patch as Record<string, CborValue>) };
}

export type CraftKind =
  | 'undecryptable' | 'unknown-hq-key' | 'not-canonical' | 'record-invalid' | 'extra-field' | 'id-mismatch'
  | 'enc-31' | 'unknown-kem' | 'wrong-station';

/** An envelope headquarters must refuse for `kind`, signed by `key` for `stationId`. */
export async function craft(kind: CraftKind, o: { stationId: string; key: KeyObject; hq: HqPublicIdentity; otherHq?: HqPublicIdentity }): Promise<Crafted> {
  const rec = makeRecord(o.stationId, 500);
  const genuine = async (): Promise<Crafted> => sealPlaintext(o.stationId, rec.recordId, encodeRecord(rec), o.hq, o.key);
  switch (kind) {
    case 'undecryptable': {
      const g = await genuine();
      const e = Buffer.from(g.envelope);
      const p = parseEnvelope(e);
      const ctAt = p.headerBytes.length + 2 + p.enc.length + 4;
      e[ctAt + 5] ^= 0x55; // garbage in the ciphertext, re-signed: the signature is fine, the AEAD is not
      return done(g.recordId, resign(e, o.key), g.sealedAt);
    }
    case 'unknown-hq-key':
      if (!o.otherHq) throw new Error('unknown-hq-key needs otherHq');
      return sealPlaintext(o.stationId, rec.recordId, encodeRecord(rec), o.otherHq, o.key);
    case 'not-canonical': {
      // `v: 1` written in a two-byte integer form instead of the shortest one
      const pt = encodeRecord(rec);
      const at = pt.indexOf(Buffer.from([0x61, 0x76, 0x01]));
      const bad = Buffer.concat([pt.subarray(0, at + 2), Buffer.from([0x18, 0x01]), pt.subarray(at + 3)]);
      return sealPlaintext(o.stationId, rec.recordId, bad, o.hq, o.key);
    }
    case 'record-invalid':
      return sealPlaintext(o.stationId, rec.recordId, encodeCbor(asCbor(rec, { kind: 'banana' })), o.hq, o.key);
    case 'extra-field':
      return sealPlaintext(o.stationId, rec.recordId, encodeCbor(asCbor(rec, { smuggled: 'not in the record model' })), o.hq, o.key);
    case 'id-mismatch': {
      const inner = { ...rec, recordId: uuidv7() };
      return sealPlaintext(o.stationId, rec.recordId, encodeRecord(inner), o.hq, o.key);
    }
    case 'enc-31': {
      const g = await genuine();
      const p = parseEnvelope(g.envelope);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(31);
      const ctLen = Buffer.alloc(4);
      ctLen.writeUInt32BE(p.ct.length);
      const body = Buffer.concat([p.headerBytes, len, p.enc.subarray(0, 31), ctLen, p.ct, Buffer.alloc(64)]);
      return done(g.recordId, resign(body, o.key), g.sealedAt);
    }
    case 'unknown-kem': {
      const g = await genuine();
      const e = Buffer.from(g.envelope);
      e.writeUInt16BE(0x0099, 5);
      return done(g.recordId, resign(e, o.key), g.sealedAt);
    }
    case 'wrong-station': {
      const other = makeRecord('st-someone-else', 500);
      return sealPlaintext('st-someone-else', other.recordId, encodeRecord(other), o.hq, o.key);
    }
  }
}

/**
 * Puts crafted envelopes into a station's vault as sealed records (what a buggy
 * station's own sealing would have left there). The vault's own pre-send check
 * (hash, ids, signature) passes for them; only headquarters can tell.
 */
export function plantInVault(stationDir: string, items: Crafted[]): void {
  const db = new Database(vaultPath(stationDir));
  try {
    db.pragma('busy_timeout = 5000');
    const rec = db.prepare("INSERT INTO records (record_id, state, sha256, size, suite, sealed_at) VALUES (?, 'sealed', ?, ?, 'x25519-chacha20poly1305', ?)");
    const env = db.prepare('INSERT INTO envelopes (seq, envelope) VALUES (?, ?)');
    db.transaction(() => {
      for (const i of items) {
        const r = rec.run(i.recordId, i.sha256, i.envelope.length, i.sealedAt);
        env.run(r.lastInsertRowid, i.envelope);
      }
    })();
  } finally {
    db.close();
  }
}

