/**
 * Headquarters' record validation: before a receipt lets a station release a
 * record, the record must be proven openable — HPKE open with a loaded key
 * generation, canonical CBOR, the record model, ids matching the header.
 *
 * The ingest (which talks to the broker) never holds the keys that open
 * records: it hands signature-checked envelopes to a RecordValidator and gets
 * back only a verdict. `LocalValidator` runs in the same process (tests, the
 * demo, the record-opening service itself); `hq validator` serves one over a Unix
 * socket to `hq run` (validator-service.ts).
 */
import { createHmac, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurable } from '../../config/durable';
import { checkSignature, digestEnvelope, parseEnvelope, RecordOpener, OpenError, wipeRecord, type HqRecordKey, type ParsedEnvelope } from '../wire/envelope';
import type { EnrollmentRecord, RecordKind } from '../wire/record';
import { StationError } from '../wire/errors';
import type { ErrorCode } from '../../config/error-codes';
import { isRecordKind } from '../../config/domain';

const wireError = (code: ErrorCode, msg: string): StationError => new StationError(code, msg);
import type { HeldReason, RejectedReason } from '../wire/payloads';

/**
 * The person-index key (#22): 32 random bytes in `<keysDir>/hq-person-index.key` (0600), made on first
 * use and kept with the record keys (the validator's duty: whoever holds it can test ID numbers
 * against the index). Rotating it would split the index, so it is never rotated.
 */
export function personIndexKey(keysDir: string): Buffer {
  const path = join(keysDir, 'hq-person-index.key');
  if (!existsSync(path)) writeFileDurable(path, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new StationError('HQ_PERSON_KEY', `${path} does not hold a 32-byte base64 key`, { hint: 'restore it from the headquarters key backup (a new one would not find earlier repeats)' });
  return key;
}

export interface ValidationItem {
  stationId: string;
  recordId: string;
  envelope: Buffer;
}

export type Verdict =
  | {
    ok: true; generation: number;
    /** Keyed hash of the record's national ID number (fleet-wide repeat check), when it has one. */
    person?: string;
    /**
     * What the record is and when it was completed (#20: campaign counts), non-biometric metadata the
     * ingest stores with it. completedAt is by headquarters' time when the booth had it (the record's
     * clock offset applied), else the booth's clock. Absent from a validator older than these fields:
     * the record is then stored with kind unknown and its sealedAt.
     */
    kind?: RecordKind;
    completedAt?: number;
  }
  | { ok: false; status: 'held'; reason: HeldReason; detail: string }
  | { ok: false; status: 'rejected'; reason: RejectedReason; detail: string };

export interface RecordValidator {
  /** One verdict per item, in order. Rejects only when the validator itself is unavailable. */
  validate(items: ValidationItem[]): Promise<Verdict[]>;
  close(): Promise<void>;
}

export interface LocalValidatorOptions {
  /**
   * Reads the record key generations (a key file). Called at start, and again
   * when a record names a key id that is not loaded — at most once per
   * `reloadMinIntervalMs` — so a generation added by `hq init --rotate` is
   * picked up without a restart and held records then open.
   */
  loadKeys: () => HqRecordKey[];
  reloadMinIntervalMs?: number;
  /**
   * A cheap token of the key file's state (e.g. its mtime and size). When it
   * differs from the one at the last load, a record naming an unknown key id
   * reloads at once, whatever the interval: a rotation is picked up by the very
   * next record sealed to it.
   */
  version?: () => string;
  now?: () => number;
  /** Told when a reload failed (the previous keys stay in use). */
  onReloadError?: (e: Error) => void;
  /**
   * Key of the person index (#22): with it the verdict carries HMAC-SHA-256(key, national ID number),
   * so the ingest can flag the same person enrolled at two booths without ever seeing the number.
   */
  personKey?: Buffer;
}

export class LocalValidator implements RecordValidator {
  private readonly opener: RecordOpener;
  private lastLoad = 0;
  private loadedVersion: string | null = null;

  constructor(private readonly o: LocalValidatorOptions) {
    this.loadedVersion = this.version();
    this.opener = new RecordOpener(o.loadKeys());
    this.lastLoad = this.now();
  }

  private version(): string | null {
    try { return this.o.version?.() ?? null; } catch { return null; }
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** Reloads the key file when the last load is old enough; true when the key id is now known. */
  private reloadFor(keyId: Buffer): boolean {
    const t = this.now();
    const v = this.version();
    const changed = v !== null && v !== this.loadedVersion;
    if (!changed && t - this.lastLoad < (this.o.reloadMinIntervalMs ?? 5_000)) return false;
    this.lastLoad = t;
    this.loadedVersion = v;
    try {
      this.opener.setKeys(this.o.loadKeys());
    } catch (e) {
      this.o.onReloadError?.(e as Error);
      return false;
    }
    return this.opener.has(keyId);
  }

  async validateOne(it: ValidationItem): Promise<Verdict> {
    let p;
    try {
      p = parseEnvelope(it.envelope);
    } catch (e) {
      return { ok: false, status: 'rejected', reason: 'malformed', detail: (e as Error).message };
    }
    if (p.recordId !== it.recordId || p.stationId !== it.stationId) {
      return { ok: false, status: 'rejected', reason: 'id-mismatch', detail: `envelope names record ${p.recordId} of ${p.stationId}` };
    }
    if (!this.opener.has(p.hqKeyId)) this.reloadFor(p.hqKeyId);
    try {
      const { record, generation } = await this.opener.open(p);
      const id = (record.details.nationalId ?? '').replace(/\s+/g, '');
      const person = this.o.personKey && id ? createHmac('sha256', this.o.personKey).update(id, 'utf8').digest('hex') : undefined;
      const completedAt = completionTime(record);
      const kind = record.kind;
      wipeRecord(record);
      return { ok: true, generation, ...(person ? { person } : {}), kind, completedAt };
    } catch (e) {
      if (!(e instanceof OpenError)) return { ok: false, status: 'rejected', reason: 'undecryptable', detail: (e as Error).message };
      if (e.reason === 'unknown-hq-key') return { ok: false, status: 'held', reason: 'unknown-hq-key', detail: e.message };
      return { ok: false, status: 'rejected', reason: e.reason, detail: e.message };
    }
  }

  async validate(items: ValidationItem[]): Promise<Verdict[]> {
    const out: Verdict[] = [];
    for (const it of items) out.push(await this.validateOne(it));
    return out;
  }

  async close(): Promise<void> {
    this.opener.setKeys([]);
  }
}

/** When a record was completed: by headquarters' time when the booth had it at sealing, else its own clock. */
export function completionTime(r: Pick<EnrollmentRecord, 'completedAt' | 'clock'>): number {
  return r.clock?.source === 'hq' ? r.completedAt + r.clock.offsetMs : r.completedAt;
}

/**
 * The kind and completion time of an ok verdict as the ingest stores them: only a known kind and a
 * whole, positive millisecond time (a validator that sends something else is not believed: unknown).
 */
export function verdictMetadata(v: Verdict): { kind: RecordKind | null; completedAt: number | null } {
  if (!v.ok) return { kind: null, completedAt: null };
  return {
    kind: isRecordKind(v.kind) ? v.kind : null,
    completedAt: typeof v.completedAt === 'number' && Number.isSafeInteger(v.completedAt) && v.completedAt > 0 ? v.completedAt : null,
  };
}

/**
 * Opens a record headquarters stored (audits, exports): the station signature
 * with any key registered for the station, then the record key of whichever
 * generation it was sealed to. Throws a wire error naming the reason.
 */
export async function openStoredRecord(envelope: Buffer, stationKeys: KeyObject[], opener: RecordOpener): Promise<{ header: ParsedEnvelope; record: EnrollmentRecord; generation: number }> {
  const d = digestEnvelope(envelope);
  if (!stationKeys.some((k) => checkSignature(d, k))) {
    throw wireError('WIRE_BAD_SIGNATURE', `record ${d.parsed.recordId}: the station signature does not verify with any of the ${stationKeys.length} key(s) registered for ${d.parsed.stationId}`);
  }
  try {
    const { record, generation } = await opener.open(d.parsed);
    return { header: d.parsed, record, generation };
  } catch (e) {
    if (e instanceof OpenError) throw wireError(e.reason === 'unknown-hq-key' ? 'WIRE_WRONG_HQ_KEY' : 'WIRE_OPEN_FAILED', e.message);
    throw e;
  }
}
