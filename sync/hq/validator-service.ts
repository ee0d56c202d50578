/**
 * The record validator as its own process (#13 item 2): `hq validator` holds the
 * record keys (every generation) and the person-index key, and answers `hq run`
 * over a Unix socket with verdicts only. It never talks to the broker, and the
 * network-facing ingest never holds a key that opens a record.
 *
 * Wire (local only): each message is a 4-byte big-endian length, then that many
 * bytes of canonical CBOR.
 *   request  {v: 1, id: uint, items: [{s: stationId, r: recordId, e: envelope bytes}]}
 *   response {v: 1, id: uint, verdicts: [Verdict]}  or  {v: 1, id: uint, error: text}
 * An ok verdict also carries the record's `kind` and `completedAt` (ms) since #20 (campaign counts):
 * optional fields within version 1, so an older ingest ignores them and a newer ingest facing an
 * older validator stores the record with kind unknown and its sealedAt (sync/hq/validate.ts
 * verdictMetadata, which also disbelieves a kind or time that is not well-formed).
 * A message larger than `maxMessageBytes` closes the connection (the ingest's own
 * flood limits keep batches far below it). Requests on one connection are answered
 * in order.
 *
 * The client (`SocketValidator`) connects on first use and again after any error;
 * a request that gets no answer within the timeout, or a connection that drops,
 * rejects, and the ingest then answers held (validator-unavailable) for that batch (the station keeps
 * the records and retries them: nothing is acknowledged that was not opened).
 */
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { decodeCbor, encodeCbor, type CborValue } from '../wire/cbor';
import type { RecordValidator, ValidationItem, Verdict } from './validate';

export const VALIDATOR_PROTOCOL_VERSION = 1;
/** Largest message either side accepts: above the ingest's largest batch (128 MiB) plus framing. */
export const DEFAULT_MAX_MESSAGE_BYTES = 160 * 1024 * 1024;

/** Reads length-prefixed messages from a socket; calls `onMessage` for each whole one. */
export function framer(sock: Socket, maxBytes: number, onMessage: (m: Buffer) => void, onTooLarge: (n: number) => void): void {
  let chunks: Buffer[] = [];
  let have = 0;
  let need = -1;
  sock.on('data', (d: Buffer) => {
    chunks.push(d);
    have += d.length;
    for (;;) {
      if (need < 0) {
        if (have < 4) return;
        const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        need = all.readUInt32BE(0);
        if (need > maxBytes) { onTooLarge(need); chunks = []; have = 0; return; }
        chunks = [all.subarray(4)];
        have -= 4;
      }
      if (have < need) return;
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const msg = all.subarray(0, need);
      const rest = all.subarray(need);
      chunks = rest.length ? [rest] : [];
      have = rest.length;
      need = -1;
      onMessage(msg);
    }
  });
}

export function frame(v: CborValue): Buffer {
  const body = encodeCbor(v);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

export interface ValidatorServiceOptions {
  socketPath: string;
  /** The validator that opens records (a LocalValidator over this process's keys). */
  validator: RecordValidator;
  logger: Logger;
  maxMessageBytes?: number;
  /** Socket file mode (default 0660: the ingest's group connects, nobody else). */
  mode?: number;
}

export interface ValidatorService {
  readonly socketPath: string;
  close(): Promise<void>;
}

/** Listens on the Unix socket and answers validation requests. */
export async function startValidatorService(o: ValidatorServiceOptions): Promise<ValidatorService> {
  const log = o.logger.child({ component: 'hq-validator' });
  const max = o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  // A socket file left by a killed validator is replaced; anything else at that path is not ours.
  if (existsSync(o.socketPath)) {
    if (!lstatSync(o.socketPath).isSocket()) throw new Error(`${o.socketPath} exists and is not a socket: refusing to replace it (set validator.socket to a free path)`);
    unlinkSync(o.socketPath);
  }
  const conns = new Set<Socket>();
  const server: Server = createServer((sock) => {
    conns.add(sock);
    sock.once('close', () => conns.delete(sock));
    sock.on('error', (e) => log.warn({ err: e.message }, 'validator connection error'));
    // one request at a time per connection, answered in order
    let queue: Promise<void> = Promise.resolve();
    framer(sock, max, (m) => {
      queue = queue.then(() => answer(sock, m));
    }, (n) => {
      log.warn({ bytes: n, max }, 'validation request larger than the limit: connection closed');
      sock.destroy();
    });
  });
  const answer = async (sock: Socket, m: Buffer): Promise<void> => {
    let id = 0;
    try {
      const req = decodeCbor(m) as { v?: unknown; id?: unknown; items?: unknown };
      if (typeof req !== 'object' || req === null || req.v !== VALIDATOR_PROTOCOL_VERSION || typeof req.id !== 'number' || !Array.isArray(req.items)) {
        throw new Error(`not a validation request of version ${VALIDATOR_PROTOCOL_VERSION}`);
      }
      id = req.id;
      const items: ValidationItem[] = req.items.map((it: unknown, i: number) => {
        const x = it as { s?: unknown; r?: unknown; e?: unknown };
        if (typeof x?.s !== 'string' || typeof x.r !== 'string' || !(x.e instanceof Uint8Array)) throw new Error(`item ${i} is not {s: station, r: record, e: envelope bytes}`);
        return { stationId: x.s, recordId: x.r, envelope: Buffer.from(x.e.buffer, x.e.byteOffset, x.e.byteLength) };
      });
      const verdicts = await o.validator.validate(items);
      if (!sock.destroyed) sock.write(frame({ v: VALIDATOR_PROTOCOL_VERSION, id, verdicts: verdicts as unknown as CborValue }));
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'validation request refused');
      if (!sock.destroyed) sock.write(frame({ v: VALIDATOR_PROTOCOL_VERSION, id, error: (e as Error).message }));
    }
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.socketPath, () => { server.off('error', reject); resolve(); });
  });
  chmodSync(o.socketPath, o.mode ?? 0o660);
  log.info({ socket: o.socketPath }, 'record validator listening');
  return {
    socketPath: o.socketPath,
    close: async () => {
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await o.validator.close();
    },
  };
}

export interface SocketValidatorOptions {
  socketPath: string;
  /** How long one request may take before the ingest gives up on it (default 30 s). */
  timeoutMs?: number;
  maxMessageBytes?: number;
}

interface Pending {
  resolve: (v: Verdict[]) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** The ingest's side: a RecordValidator that asks `hq validator` over its socket. */
export class SocketValidator implements RecordValidator {
  private sock: Socket | null = null;
  private connecting: Promise<Socket> | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(private readonly o: SocketValidatorOptions) {}

  private failAll(e: Error): void {
    for (const [id, p] of this.pending) { clearTimeout(p.timer); this.pending.delete(id); p.reject(e); }
  }

  private connect(): Promise<Socket> {
    if (this.sock && !this.sock.destroyed) return Promise.resolve(this.sock);
    if (this.connecting) return this.connecting;
    this.connecting = new Promise<Socket>((resolve, reject) => {
      const s = createConnection(this.o.socketPath);
      s.once('connect', () => {
        s.off('error', reject);
        this.sock = s;
        this.connecting = null;
        s.on('error', () => { /* 'close' follows */ });
        s.once('close', () => {
          if (this.sock === s) this.sock = null;
          this.failAll(new Error(`the record validator at ${this.o.socketPath} closed the connection`));
        });
        framer(s, this.o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, (m) => this.onMessage(m), (n) => {
          s.destroy(new Error(`answer of ${n} bytes exceeds the limit`));
        });
        resolve(s);
      });
      s.once('error', (e) => {
        this.connecting = null;
        reject(new Error(`the record validator at ${this.o.socketPath} is not reachable (${(e as NodeJS.ErrnoException).code ?? e.message}): is \`hq validator\` running?`));
      });
    });
    return this.connecting;
  }

  private onMessage(m: Buffer): void {
    let res: { v?: unknown; id?: unknown; verdicts?: unknown; error?: unknown };
    try {
      res = decodeCbor(m) as typeof res;
    } catch (e) {
      this.sock?.destroy();
      this.failAll(new Error(`the record validator answered something that is not CBOR: ${(e as Error).message}`));
      return;
    }
    const p = typeof res?.id === 'number' ? this.pending.get(res.id) : undefined;
    if (!p) return; // an answer after its timeout: already given up
    this.pending.delete(res.id as number);
    clearTimeout(p.timer);
    if (typeof res.error === 'string') p.reject(new Error(`the record validator refused the request: ${res.error}`));
    else if (!Array.isArray(res.verdicts)) p.reject(new Error('the record validator answered without verdicts'));
    else p.resolve(res.verdicts as Verdict[]);
  }

  async validate(items: ValidationItem[]): Promise<Verdict[]> {
    if (this.closed) throw new Error('validator client closed');
    const s = await this.connect();
    const id = this.nextId++;
    const out = new Promise<Verdict[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the record validator did not answer within ${this.o.timeoutMs ?? 30_000} ms`));
      }, this.o.timeoutMs ?? 30_000);
      this.pending.set(id, { resolve, reject, timer });
    });
    s.write(frame({ v: VALIDATOR_PROTOCOL_VERSION, id, items: items.map((it) => ({ s: it.stationId, r: it.recordId, e: it.envelope })) }));
    const verdicts = await out;
    if (verdicts.length !== items.length) throw new Error(`the record validator answered ${verdicts.length} verdicts for ${items.length} records`);
    return verdicts;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error('validator client closed'));
    this.sock?.destroy();
    this.sock = null;
  }
}
