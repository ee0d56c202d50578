/**
 * The contract between the station's vault (station/vault, which implements it)
 * and the uplink (sync/uplink, which consumes it). All state lives in the vault's
 * SQLite file, so a restart resumes exactly where it stopped.
 *
 * Record states: sealed → in_flight (batch id) → acknowledged (receipt stored)
 * → released (ciphertext securely deleted; metadata + receipt kept per retention).
 * A receipt that keeps a record at the station moves it to `held` (a reason that
 * can clear: it becomes `sealed` again by itself after a backoff and is resent)
 * or `rejected` (kept, never evicted, reported; back to `sealed` only when a
 * technician requeues it). Nothing is ever silently dropped.
 */
import type { AuditEntryPayload, RefusalReason, ReceiptStatus } from './wire/payloads';

export type { ReceiptStatus } from './wire/payloads';

export interface OutboxItem {
  recordId: string;
  /** The signed sealed envelope, exactly the bytes documented in docs/wire-format.md. */
  envelope: Buffer;
  /** Lower-case hex SHA-256 of `envelope`. */
  sha256: string;
  sealedAt: number; // ms since epoch
}

export interface PendingBatch {
  batchId: string;
  items: OutboxItem[];
  createdAt: number;
  attempts: number;
  lastAttemptAt: number | null;
}

export interface ReceiptResult {
  recordId: string;
  /** The hash headquarters computed over what it received. */
  sha256: string;
  status: ReceiptStatus;
  /** For `held` and `rejected`: headquarters' reason code (docs/wire-format.md §7). */
  reason?: RefusalReason;
  /** For `held` and `rejected`: headquarters' explanation (shown by `station status`). */
  detail?: string;
  /** For `held`: headquarters' suggestion for the next try (the outbox clamps it to its own backoff). */
  retryAfterMs?: number;
}

export interface OutboxStats {
  sealed: number;
  inFlight: number;
  acknowledged: number;
  released: number;
  rejected: number;
  /** Kept back by headquarters for a reason that can clear; retried automatically. */
  held: number;
  /** Age in ms of the oldest record not yet acknowledged, or null. */
  oldestUnackedAgeMs: number | null;
  /** Envelope bytes not yet acknowledged (sealed, in flight, held), when the outbox knows them. */
  backlogBytes?: number;
  lastReceiptAt: number | null;
}

export interface Outbox {
  /** Batches already in flight, oldest first (after a restart they are resent unchanged). */
  inFlightBatches(): PendingBatch[];
  /**
   * Moves the oldest sealed records into a new in-flight batch, bounded by count
   * and total envelope bytes. A single record larger than maxBytes is taken alone
   * (the uplink splits it into chunks). Returns null when nothing is sealed.
   * Verifies each row against its stored hash first: a tampered row is reported
   * (throws / raises an alert) and never sent or dropped silently.
   */
  openBatch(maxRecords: number, maxBytes: number): PendingBatch | null;
  /**
   * Optional: up to `count` batches as `openBatch` would open them one after another, in ONE
   * durable transaction (one fsync). Returns [] when nothing is sealed.
   */
  openBatches?(count: number, maxRecords: number, maxBytes: number): PendingBatch[];
  /** Records one more send attempt of a batch (for backoff and reporting). */
  markAttempt(batchId: string, at?: number): void;
  /**
   * In ONE transaction: stores headquarters' signed receipt, marks `stored` and
   * `duplicate` records acknowledged, `held` ones held (with their reason and
   * next try), `rejected` ones rejected (with their reason). The caller has
   * already verified the receipt's signature and that it matches the batch.
   */
  acknowledge(batchId: string, receipt: Buffer, results: ReceiptResult[]): void;
  /**
   * Optional: several receipts in ONE durable transaction (one fsync), each
   * applied as `acknowledge` would. Returns, per receipt in order, null when it
   * was applied and the error when it was not (the others are applied anyway).
   */
  acknowledgeMany?(receipts: { batchId: string; receipt: Buffer; results: ReceiptResult[] }[]): (Error | null)[];
  stats(now?: number): OutboxStats;
  /**
   * The station's audit chain: entries with seq > afterSeq, oldest first, at
   * most `limit`. The uplink sends them to headquarters on `audit` in order and
   * resumes from the head headquarters acknowledges. An outbox without an audit
   * chain returns [].
   */
  auditEntriesSince(afterSeq: number, limit?: number): AuditEntryPayload[];
}
