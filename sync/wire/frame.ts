/**
 * Binary batch frame published on `…/batch`:
 *
 *   "ESB" 0x01 | u32 BE header length | header (UTF-8 JSON) | body bytes
 *
 * A `batch` frame's body is the records' envelopes concatenated in header order.
 * When that does not fit under the packet cap (typically one enrollment larger
 * than the cap), the same body is cut into `chunk` frames (index 0..count-1,
 * byte offset, same header otherwise); headquarters stores the slices until all
 * are there, reassembles the body and then handles it exactly like a batch frame
 * (each record's SHA-256 is checked against the header).
 *
 * The batch hash names exactly which records (id + SHA-256) a batch holds, in
 * order; headquarters recomputes it from the bytes it received and echoes it in
 * the signed receipt.
 */
import { createHash } from 'node:crypto';
import { checkPayload, type FrameHeader, type FrameRecord } from './payloads';

export type { FrameHeader, FrameRecord } from './payloads';

export const FRAME_MAGIC = Buffer.from([0x45, 0x53, 0x42, 0x01]); // "ESB\x01"
const MAX_HEADER = 4 * 1024 * 1024;

export interface Frame {
  header: FrameHeader;
  body: Buffer;
}

export function batchHash(batchId: string, records: { recordId: string; sha256: string }[]): string {
  const h = createHash('sha256');
  h.update(`enroll-batch-v1\n${batchId}\n`);
  for (const r of records) h.update(`${r.recordId} ${r.sha256}\n`);
  return h.digest('hex');
}

export function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export function encodeFrame(header: FrameHeader, body: Buffer | Buffer[]): Buffer {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(h.length, 0);
  return Buffer.concat([FRAME_MAGIC, len, h, ...(Array.isArray(body) ? body : [body])]);
}

export class FrameError extends Error {}

/**
 * Decodes a frame and validates its header against the frame-header schema
 * (sync/wire/payloads.ts), then the rules a schema cannot say: record ids
 * unique, a batch body exactly as long as its records, a chunk inside its
 * batch. Throws FrameError, naming what was wrong, on anything malformed.
 */
export function decodeFrame(buf: Buffer): Frame {
  if (!Buffer.isBuffer(buf) || buf.length < 8) throw new FrameError('frame too short');
  if (!buf.subarray(0, 4).equals(FRAME_MAGIC)) throw new FrameError('bad frame magic');
  const hl = buf.readUInt32BE(4);
  if (hl === 0 || hl > MAX_HEADER || 8 + hl > buf.length) throw new FrameError('bad header length');
  let raw: unknown;
  try {
    raw = JSON.parse(buf.subarray(8, 8 + hl).toString('utf8'));
  } catch {
    throw new FrameError('header is not JSON');
  }
  const checked = checkPayload('frameHeader', raw);
  if (!checked.ok) throw new FrameError(`bad frame header: ${checked.error}`);
  const header = checked.value;
  const seen = new Set<string>();
  let total = 0;
  for (const r of header.records) {
    if (seen.has(r.id)) throw new FrameError('duplicate record id in batch');
    seen.add(r.id);
    total += r.len;
  }
  if (!Number.isSafeInteger(total)) throw new FrameError('record lengths overflow');
  const body = buf.subarray(8 + hl);
  if (header.kind === 'batch') {
    if (header.chunk !== undefined) throw new FrameError('batch frame with chunk info');
    if (body.length !== total) throw new FrameError(`body length ${body.length} does not match records (${total})`);
  } else {
    const c = header.chunk;
    if (!c) throw new FrameError('chunk frame without chunk info');
    if (c.index >= c.count) throw new FrameError('bad chunk info: index beyond count');
    if (c.offset + body.length > total) throw new FrameError('chunk exceeds batch length');
  }
  return { header, body };
}

/** Splits a `batch` frame body into its records' envelopes. */
export function splitBody(f: Frame): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  for (const r of f.header.records) {
    out.push(f.body.subarray(off, off + r.len));
    off += r.len;
  }
  return out;
}

export interface BatchInput {
  stationId: string;
  batchId: string;
  attempt: number;
  items: { recordId: string; envelope: Buffer; sha256: string; sealedAt?: number }[];
}

/**
 * Builds the frames for one batch: a single `batch` frame when it fits in
 * `maxFrameBytes`, otherwise (one oversize record) a series of `chunk` frames.
 */
export function buildFrames(b: BatchInput, maxFrameBytes: number, now = Date.now()): Buffer[] {
  const records: FrameRecord[] = b.items.map((i) => ({ id: i.recordId, sha256: i.sha256, len: i.envelope.length, ...(i.sealedAt !== undefined ? { sealedAt: i.sealedAt } : {}) }));
  const header: FrameHeader = {
    v: 1, kind: 'batch', stationId: b.stationId, batchId: b.batchId, attempt: b.attempt, sentAt: now,
    batchHash: batchHash(b.batchId, b.items), records,
  };
  const whole = encodeFrame(header, b.items.map((i) => i.envelope));
  if (whole.length <= maxFrameBytes) return [whole];
  return buildChunked(header, Buffer.concat(b.items.map((i) => i.envelope)), maxFrameBytes);
}

/** Splits the concatenated body of a batch into `chunk` frames that each fit in maxFrameBytes. */
function buildChunked(batchHeader: FrameHeader, body: Buffer, maxFrameBytes: number): Buffer[] {
  const base: FrameHeader = { ...batchHeader, kind: 'chunk', chunk: { index: 999999, count: 999999, offset: body.length } };
  const headerRoom = Buffer.byteLength(JSON.stringify(base)) + 8 + 16;
  const slice = maxFrameBytes - headerRoom;
  if (slice < 1024) throw new FrameError(`maximum frame size ${maxFrameBytes} is too small to carry chunks`);
  const count = Math.ceil(body.length / slice);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const offset = i * slice;
    out.push(encodeFrame({ ...batchHeader, kind: 'chunk', chunk: { index: i, count, offset } }, body.subarray(offset, Math.min(body.length, offset + slice))));
  }
  return out;
}
