/**
 * Headquarters' record validation: before a receipt lets a station release a
 * record, the record must be proven openable — HPKE open with a loaded key
 * generation, canonical CBOR, the record model, ids matching the header.
 *
 * The ingest (which talks to the broker) never holds the keys that open
 * records: it hands signature-checked envelopes to a RecordValidator and gets
 * back only a verdict. `LocalValidator` runs in the same process (tests, the
 * demo, the record-opening service itself); `hq opener` serves one over a Unix
 * socket to `hq run` (opener.ts).
 */
import { parseEnvelope, RecordOpener, OpenError, type HqRecordKey } from '../wire/envelope';
import type { HeldReason, RejectedReason } from '../wire/payloads';

export interface ValidationItem {
  stationId: string;
  recordId: string;
  envelope: Buffer;
}

export type Verdict =
  | { ok: true; generation: number }
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
  now?: () => number;
  /** Told when a reload failed (the previous keys stay in use). */
  onReloadError?: (e: Error) => void;
}

export class LocalValidator implements RecordValidator {
  private readonly opener: RecordOpener;
  private lastLoad = 0;

  constructor(private readonly o: LocalValidatorOptions) {
    this.opener = new RecordOpener(o.loadKeys());
    this.lastLoad = this.now();
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** Reloads the key file when the last load is old enough; true when the key id is now known. */
  private reloadFor(keyId: Buffer): boolean {
    const t = this.now();
    if (t - this.lastLoad < (this.o.reloadMinIntervalMs ?? 5_000)) return false;
    this.lastLoad = t;
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
      return { ok: true, ...(await this.opener.check(p)) };
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
