/**
 * Station side of the uplink: takes batches from the vault's outbox, publishes
 * them at QoS 1 to headquarters, and releases them only when headquarters'
 * signed receipt arrives naming the batch, its records and their hashes.
 *
 * Durability lives entirely in the vault (sync/outbox.ts): this class keeps
 * only caches and timers, so a restart (or SIGKILL) resumes by resending the
 * vault's in-flight batches unchanged.
 */
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, type KeyObject } from 'node:crypto';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import pino from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { renameSync, writeFileSync } from 'node:fs';
import { writeFileDurable } from '../../config/durable';
import { SMALL_STATE_KEYS, type SmallState } from '../small-state';
import type { Outbox, PendingBatch, ReceiptResult } from '../outbox';
import {
  makeTopics, type AuditAckBody, type AuditEntryPayload, type AuditSlicePayload, type EventPayload, type HealthPayload, type IngestFlagPayload, type ReceiptBody, type StatusPayload, type TimeBody, type Topics,
} from '../topics';
import { backoffDelay } from './backoff';
import { ByteWindow, LinkMeter, type LinkEstimate } from './link';
import { batchHash, buildFrames } from '../wire/frame';
import { encodeSigned, signMessage, toPrivateKey, verifySignedBody, type KeyInput } from '../wire/signed';
import { parsePayload } from '../wire/payloads';
import { resolveTrust, type ResolvedTrust } from '../wire/trust';
import type { HqPublicIdentity } from '../wire/keys';

function serialOf(identity: unknown): number {
  const n = (identity as { serial?: unknown } | null)?.serial;
  return typeof n === 'number' ? n : 0;
}
import { isSigningKeySource, type SigningKeySource } from '../wire/keys';
import {
  CommandVerifier, FileReplayStore, MemoryReplayStore, StateReplayStore, checkCommandArgs, dispatchCommand, hqIdentityArg, resultBody, type CommandHandlers,
} from '../commands';

export interface UplinkTls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
}

export interface UplinkOptions {
  brokerUrl: string;
  stationId: string;
  outbox: Outbox;
  /** The time commands' expiry is judged by (station/clock.ts StationClock.judgeNow; sync/commands CommandVerifierOptions). Default: the wall clock. */
  judgeNow?: () => { now: number; source: 'trusted' | 'wall' } | null;
  /**
   * Where the replay window, session counter and acknowledged audit head are kept (the
   * station passes its vault: one durable transaction in vault.db each). Without it they
   * go to JSON files under dataDir/uplink (or stay in memory without a dataDir); files left
   * by older versions are read once when the store holds nothing yet.
   */
  state?: SmallState;
  /**
   * Station Ed25519 private key: signs command results. A SigningKeySource (the
   * station's key holder) is read at each signature, so a rotation applies at once.
   */
  signingKey: KeyInput | SigningKeySource;
  /** Headquarters public identity (receipt + ops keys), see trust.ts. */
  hqIdentity: unknown;
  logger?: Logger;
  /** Snapshot of the station's health for the retained `health` topic. */
  health?: () => HealthPayload | Promise<HealthPayload>;
  commands?: CommandHandlers;
  /** Where the session counter and command replay store are kept (default: memory only). */
  dataDir?: string;
  tls?: UplinkTls;
  username?: string;
  password?: string;
  /** MQTT protocol version: 5 (default) or 4 (3.1.1, e.g. the embedded demo broker). */
  protocolVersion?: 4 | 5;
  topicPrefix?: string;
  /** Broker keeps the session (queued receipts/commands) this long while the station is offline. */
  sessionExpirySec?: number;
  keepaliveSec?: number;
  maxBatchRecords?: number;
  /** Upper bound for one publish packet; lowered to the broker's CONNACK maximum packet size. */
  maxPacketBytes?: number;
  /**
   * Batches being published or awaiting their receipt at once (default 16, each at most one packet,
   * ~1 MB): enough that headquarters' commit of some overlaps the transfer of the next ones.
   */
  maxInFlightBatches?: number;
  /** First wait for a receipt before resending; doubles per attempt (with jitter) up to receiptTimeoutMaxMs. */
  receiptTimeoutMs?: number;
  receiptTimeoutMaxMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  healthIntervalMs?: number;
  /** Shortest gap between two health messages triggered by backlog changes. */
  healthMinIntervalMs?: number;
  /**
   * While connected, look at the outbox for newly sealed records at least this often (call
   * notify() after sealing to send at once).
   */
  idlePollMs?: number;
  version?: string;
  clientId?: string;
  /**
   * Source of the station's audit chain (default: the outbox, see
   * Outbox.auditEntriesSince; null: send none). Sent on `audit` in order.
   */
  audit?: AuditSource | null;
  /** Most audit entries per slice. */
  auditSliceEntries?: number;
}

export type AuditSource = Pick<Outbox, 'auditEntriesSince'>;

export interface UplinkStatus {
  connected: boolean;
  paused: boolean;
  session: number;
  inFlight: number;
  lastReceiptAt: number | null;
  maxPacketBytes: number;
  brokerMaxPacket: number | null;
  /** Last packet of any kind from the broker (receipt, PUBACK, ping answer), or null. */
  lastContactAt: number | null;
  /** What this process learnt about the link (see link.ts) and the bytes in flight now. */
  link: LinkEstimate & { inFlightBytes: number };
  /** Batch data bytes published by this process, and how many of them were sent before (after a drop or a receipt timeout). */
  bytesSent: number;
  bytesResent: number;
  /** Record bytes acknowledged per second over the last minute of receipts, or null. */
  drainBps: number | null;
}

/** What the uplink writes to <dataDir>/uplink/link.json for `station status` (another process). */
export interface LinkStatusFile extends Omit<UplinkStatus, 'paused' | 'maxPacketBytes' | 'brokerMaxPacket' | 'session'> {
  v: 1;
  pid: number;
  at: number;
}

interface Pending {
  batch: PendingBatch;
  /** Being published by this process right now. */
  sending: boolean;
  sentAt: number | null;
  dueAt: number;
  /** Order of the batch: its frames are served before later batches' ones. */
  seq: number;
  /** The frame size this batch is cut into (fixed once chosen, so headquarters' stored chunks stay valid). */
  frameBytes: number | null;
  frameCount: number;
  /** Frames the broker acknowledged in this batch's current round (not sent again after a drop). */
  acked: Set<number>;
  /** Frames written at least once by this process (sending one again counts as resent). */
  written: Set<number>;
  /** Every frame was acknowledged: the next send (after the receipt timeout) is a whole resend. */
  complete: boolean;
  /** When this process first put the batch on the wire (for the drain rate), and on the monotonic clock (for headquarters' time). */
  firstSentAt: number | null;
  firstSentMono: number | null;
  /** In flight since an earlier process: its receipt may have been signed before this process sent anything. */
  inherited: boolean;
}

class Disconnected extends Error {
  constructor() { super('disconnected while sending'); }
}

const DEFAULTS = {
  sessionExpirySec: 14 * 24 * 3600,
  keepaliveSec: 30,
  maxBatchRecords: 200,
  maxPacketBytes: 1024 * 1024,
  maxInFlightBatches: 16,
  receiptTimeoutMs: 30_000,
  receiptTimeoutMaxMs: 10 * 60_000,
  reconnectBaseMs: 500,
  reconnectMaxMs: 10_000,
  healthIntervalMs: 300_000,
  healthMinIntervalMs: 5_000,
  idlePollMs: 5_000,
};

/** Bytes kept free in each packet for the fixed header, topic and properties. */
const PACKET_OVERHEAD = 512;
/** Estimated frame header bytes per record (id, hash, length, sealedAt as JSON). */
const HEADER_PER_RECORD = 200;

export class Uplink extends EventEmitter {
  private readonly o: UplinkOptions & typeof DEFAULTS;
  private readonly log: Logger;
  private readonly t: Topics;
  private trust: ResolvedTrust;
  /** Rotation serial of the identity trusted now (update-hq-key never goes back). */
  private hqSerial: number;
  private readonly signingKey: () => KeyObject;
  private readonly verifier: CommandVerifier;
  private client: MqttClient | null = null;
  private connected = false;
  private stopping = false;
  private started = false;
  private session = 0;
  private brokerMaxPacket: number | null = null;
  private pending = new Map<string, Pending>();
  private recentlyAcked = new Map<string, number>();
  private ingestFlags = new Map<string, boolean>();
  private ingestFlagAt = new Map<string, number>();
  private forceOnce = false;
  private pumping: Promise<void> | null = null;
  /** Batches being published (launched by the pump, not awaited by it). */
  private readonly sends = new Set<Promise<void>>();
  /** Verified receipts waiting to be stored together (flushAcks). */
  private ackQueue: { batchId: string; receipt: Buffer; results: ReceiptResult[] }[] = [];
  private ackScheduled = false;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectAttempts = 0;
  private lastReceiptAt: number | null = null;
  private eventQueue: EventPayload[] = [];
  private readonly onCloseWaiters = new Set<() => void>();
  private healthSoonTimer: NodeJS.Timeout | null = null;
  private readonly auditSource: AuditSource | null;
  private auditAcked = 0;
  private auditInFlight: { upTo: number; dueAt: number; attempts: number } | null = null;
  private auditAttempts = 0;
  private lastHealthAt = 0;
  /** Nonces of our recent health messages → when (monotonic) each was sent: headquarters answers them with signed time. */
  private readonly timeAsked = new Map<string, number>();
  private readonly startedAt = Date.now();
  private readonly meter = new LinkMeter();
  /** Data frames in flight: at most the link's window, and at most 12 (the broker's receive maximum is 20). */
  private readonly window = new ByteWindow(() => this.link().windowBytes, 12);
  private batchSeq = 0;
  private bytesSent = 0;
  private bytesResent = 0;
  private lastContactAt: number | null = null;
  private drained: { at: number; bytes: number; from: number }[] = [];
  private linkFileTimer: NodeJS.Timeout | null = null;
  private linkFileAt = 0;

  constructor(opts: UplinkOptions) {
    super();
    this.o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as UplinkOptions & typeof DEFAULTS;
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'uplink' });
    this.t = makeTopics(opts.topicPrefix);
    this.t.status(opts.stationId); // validates the id
    this.trust = resolveTrust(opts.hqIdentity);
    this.hqSerial = serialOf(opts.hqIdentity);
    const sk = opts.signingKey;
    if (isSigningKeySource(sk)) this.signingKey = () => sk.current().privateKey;
    else { const fixed = toPrivateKey(sk); this.signingKey = () => fixed; }
    this.auditSource = opts.audit !== undefined ? opts.audit : opts.outbox;
    this.verifier = new CommandVerifier({
      stationId: opts.stationId,
      opsKeys: this.trust.ops,
      replay: opts.state
        ? new StateReplayStore(opts.state, SMALL_STATE_KEYS.commandsSeen, opts.dataDir ? join(opts.dataDir, 'uplink', 'commands-seen.json') : undefined)
        : opts.dataDir ? new FileReplayStore(join(opts.dataDir, 'uplink', 'commands-seen.json')) : new MemoryReplayStore(),
      ...(opts.judgeNow ? { judgeNow: opts.judgeNow } : {}),
    });
  }

  // ------------------------------------------------------------ lifecycle

  /** Connects in the background (returns at once; offline for days is normal). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    for (const b of this.o.outbox.inFlightBatches()) {
      this.pending.set(b.batchId, { ...this.newPending(b), inherited: true });
    }
    this.lastReceiptAt = this.o.outbox.stats().lastReceiptAt;
    this.auditAcked = this.loadAuditAcked();
    this.connect();
    this.healthTimer = setInterval(() => { void this.publishHealth(); }, this.o.healthIntervalMs);
    this.healthTimer.unref();
  }

  /**
   * Publishes "offline" (retained), waits (bounded) for the publish in progress
   * and outstanding PUBACKs, then disconnects. Unacknowledged batches stay in the vault.
   */
  async stop(timeoutMs = 5_000): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    this.started = false;
    this.flushAcks(); // receipts already verified are stored before the vault may close
    for (const t of [this.timer, this.healthTimer, this.reconnectTimer, this.healthSoonTimer, this.linkFileTimer]) if (t) clearTimeout(t);
    this.timer = this.healthTimer = this.reconnectTimer = this.healthSoonTimer = this.linkFileTimer = null;
    const deadline = Date.now() + timeoutMs;
    const client = this.client;
    if (!client) return;
    if (this.pumping) await withTimeout(this.pumping, Math.max(0, deadline - Date.now()));
    if (this.sends.size) await withTimeout(Promise.all([...this.sends]), Math.max(0, deadline - Date.now()));
    if (this.connected) {
      const p: StatusPayload = { v: 1, state: 'offline', session: this.session, at: Date.now(), ...(this.o.version ? { version: this.o.version } : {}) };
      await withTimeout(this.publish(this.t.status(this.o.stationId), Buffer.from(JSON.stringify(p)), { retain: true }).catch(() => undefined), Math.max(0, deadline - Date.now()));
    }
    await withTimeout(new Promise<void>((resolve) => client.end(false, {}, () => resolve())), Math.max(100, deadline - Date.now()));
    if (!client.disconnected) await withTimeout(new Promise<void>((resolve) => client.end(true, {}, () => resolve())), 1_000);
    // Stopped while still connecting, mqtt.js can leave its socket open after end(), and that socket
    // alone keeps the process from exiting: close it ourselves.
    if (client.stream && !client.stream.destroyed) client.stream.destroy();
    this.client = null;
    this.connected = false;
    this.writeLinkFile();
  }

  status(): UplinkStatus {
    return {
      connected: this.connected, paused: this.paused(), session: this.session, inFlight: this.pending.size,
      lastReceiptAt: this.lastReceiptAt, maxPacketBytes: this.frameCap(), brokerMaxPacket: this.brokerMaxPacket,
      lastContactAt: this.lastContactAt, link: { ...this.link(), inFlightBytes: this.window.bytes },
      bytesSent: this.bytesSent, bytesResent: this.bytesResent, drainBps: this.drainBps(),
    };
  }

  private link(): LinkEstimate {
    return this.meter.estimate(this.frameCap());
  }

  private newPending(b: PendingBatch): Pending {
    return { batch: b, sending: false, sentAt: null, dueAt: 0, seq: this.batchSeq++, frameBytes: null, frameCount: 0, acked: new Set(), written: new Set(), complete: false, firstSentAt: null, firstSentMono: null, inherited: false };
  }

  /**
   * Record bytes acknowledged per second: the batches receipted in the last minute, over the time
   * from when the first of them went on the wire to the last receipt (receipts come in bursts; a
   * rate between two receipts would overshoot the link).
   */
  private drainBps(now = Date.now()): number | null {
    while (this.drained.length && this.drained[0]!.at < now - 60_000) this.drained.shift();
    if (this.drained.length === 0) return null;
    const from = Math.min(...this.drained.map((d) => d.from));
    const span = this.drained[this.drained.length - 1]!.at - from;
    if (span < 500) return null;
    const bytes = this.drained.reduce((n, d) => n + d.bytes, 0);
    return Math.round((bytes * 1000) / span);
  }

  private linkFile(): string | null {
    return this.o.dataDir ? join(this.o.dataDir, 'uplink', 'link.json') : null;
  }

  /**
   * The uplink's view for `station status` (a separate process): written on connection changes and
   * at most every 2 s while receipts arrive. Not fsynced: a status file lost in a power cut is rewritten.
   */
  private linkFileSoon(): void {
    if (this.linkFileTimer || !this.o.dataDir) return;
    const wait = Math.max(0, this.linkFileAt + 2_000 - Date.now());
    this.linkFileTimer = setTimeout(() => { this.linkFileTimer = null; this.writeLinkFile(); }, wait);
    this.linkFileTimer.unref();
  }

  private writeLinkFile(): void {
    const f = this.linkFile();
    if (!f) return;
    this.linkFileAt = Date.now();
    const { paused: _p, maxPacketBytes: _m, brokerMaxPacket: _b, session: _s, ...st } = this.status();
    const body: LinkStatusFile = { v: 1, pid: process.pid, at: Date.now(), ...st };
    try {
      mkdirSync(join(this.o.dataDir!, 'uplink'), { recursive: true });
      writeFileSync(`${f}.tmp`, JSON.stringify(body));
      renameSync(`${f}.tmp`, f);
    } catch (e) {
      this.log.debug({ err: e }, 'could not write the link status file');
    }
  }

  /** Resend everything in flight now and send new batches, even while headquarters says ingest is offline. */
  syncNow(): void {
    const now = Date.now();
    for (const p of this.pending.values()) if (!p.sending) p.dueAt = now;
    if (this.auditInFlight) this.auditInFlight.dueAt = now;
    this.forceOnce = true;
    this.kick();
  }

  /** New records were sealed: send them now (respects the ingest flag; no forced resends). */
  notify(): void {
    this.kick();
  }

  /** Publishes an event (QoS 1). Queued in memory (bounded) while offline. */
  async publishEvent(kind: string, data?: Record<string, unknown>): Promise<void> {
    const ev: EventPayload = { v: 1, id: uuidv7(), kind, at: Date.now(), session: this.session, ...(data ? { data } : {}) };
    if (!this.connected) {
      this.eventQueue.push(ev);
      if (this.eventQueue.length > 1000) this.eventQueue.shift();
      return;
    }
    await this.publish(this.t.events(this.o.stationId), Buffer.from(JSON.stringify(ev)), {});
  }

  /** Publishes health soon (debounced): after receipts change the backlog, ops see it without waiting a full period. */
  private healthSoon(): void {
    if (this.healthSoonTimer || !this.o.health) return;
    const wait = Math.max(0, this.lastHealthAt + this.o.healthMinIntervalMs - Date.now());
    this.healthSoonTimer = setTimeout(() => { this.healthSoonTimer = null; void this.publishHealth(); }, wait);
    this.healthSoonTimer.unref();
  }

  async publishHealth(): Promise<void> {
    if (!this.connected || !this.o.health) return;
    this.lastHealthAt = Date.now();
    try {
      const h = await this.o.health();
      // headquarters answers the nonce with its signed time (onTime); the window starts before the publish
      const timeNonce = randomBytes(16).toString('hex');
      this.timeAsked.set(timeNonce, performance.now());
      while (this.timeAsked.size > 8) this.timeAsked.delete(this.timeAsked.keys().next().value!);
      const payload: HealthPayload = { ...h, session: this.session, intervalS: Math.round(this.o.healthIntervalMs / 1000), timeNonce };
      await this.publish(this.t.health(this.o.stationId), Buffer.from(JSON.stringify(payload)), { retain: true });
    } catch (e) {
      this.log.warn({ err: e }, 'could not publish health');
    }
  }

  // ------------------------------------------------------------ connection

  private sessionFile(): string | null {
    return this.o.dataDir ? join(this.o.dataDir, 'uplink', 'session.json') : null;
  }

  /** A counter kept in the small-state store, or (without one) in the JSON file older versions wrote. */
  private loadCounter(key: string, file: string | null, field: string): number {
    if (this.o.state) {
      const v = this.o.state.get(key);
      if (v !== null) return Number(v) || 0;
    }
    if (!file || !existsSync(file)) return 0; // a file left by an older version is read once
    try { return Number((JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)[field]) || 0; } catch { return 0; }
  }

  /** Stores a counter durably; throws when it cannot (callers carry on in memory). */
  private saveCounter(key: string, file: string | null, field: string, n: number): void {
    if (this.o.state) {
      this.o.state.set(key, String(n));
      return;
    }
    if (!file) return;
    mkdirSync(join(this.o.dataDir!, 'uplink'), { recursive: true });
    writeFileDurable(file, JSON.stringify({ [field]: n }));
  }

  /** The session counter increases on every connection attempt and survives restarts. */
  private nextSession(): number {
    let n = this.session;
    if (n === 0) n = this.loadCounter(SMALL_STATE_KEYS.session, this.sessionFile(), 'session');
    n += 1;
    try {
      this.saveCounter(SMALL_STATE_KEYS.session, this.sessionFile(), 'session', n);
    } catch (e) {
      // A full disk must not stop the uplink: the counter goes on in memory (a will from this
      // session still names it), and is written with the next connection once there is room.
      this.log.warn({ err: e }, 'could not persist the uplink session counter; continuing with it in memory');
    }
    this.session = n;
    return n;
  }

  private willPayload(): Buffer {
    const p: StatusPayload = { v: 1, state: 'lost', session: this.session, at: Date.now() };
    return Buffer.from(JSON.stringify(p));
  }

  private connect(): void {
    this.nextSession();
    const v5 = (this.o.protocolVersion ?? 5) === 5;
    const opts: IClientOptions = {
      clientId: this.o.clientId ?? `station-${this.o.stationId}`,
      protocolVersion: v5 ? 5 : 4,
      clean: false,
      keepalive: this.o.keepaliveSec,
      reconnectPeriod: 0, // we reconnect ourselves, with exponential backoff + jitter
      connectTimeout: 15_000,
      resubscribe: false,
      ...(v5 ? { properties: { sessionExpiryInterval: this.o.sessionExpirySec, receiveMaximum: 64 } } : {}),
      will: {
        topic: this.t.status(this.o.stationId), payload: this.willPayload(), qos: 1, retain: true,
        ...(v5 ? { properties: {} } : {}),
      },
      ...(this.o.username ? { username: this.o.username } : {}),
      ...(this.o.password ? { password: this.o.password } : {}),
      ...(this.o.tls ?? {}),
    };
    const client = mqtt.connect(this.o.brokerUrl, opts);
    this.client = client;
    client.on('connect', (connack) => { void this.onConnect(connack.sessionPresent, connack.properties?.maximumPacketSize); });
    client.on('packetreceive', () => { this.lastContactAt = Date.now(); });
    client.on('message', (topic, payload, packet) => { this.onMessage(topic, payload, packet); });
    client.on('error', (err) => {
      const code = (err as { code?: unknown }).code;
      // While stopping on purpose, mqtt.js may still report the socket it is closing ("write after end").
      if (this.stopping) { this.log.debug({ err: { message: err.message, code } }, 'connection error while stopping'); return; }
      if (typeof code === 'number') {
        this.log.error({ reasonCode: code, broker: this.o.brokerUrl }, `broker refused the connection: reason code 0x${code.toString(16)} (${err.message})`);
      } else {
        this.log.warn({ err: { message: err.message, code }, broker: this.o.brokerUrl }, 'uplink connection error');
      }
    });
    client.on('close', () => { this.onClose(); });
  }

  private onClose(): void {
    const was = this.connected;
    this.connected = false;
    const waiters = [...this.onCloseWaiters];
    this.onCloseWaiters.clear();
    for (const w of waiters) w();
    for (const p of this.pending.values()) p.sending = false;
    this.window.reset();
    if (was) { this.emit('disconnected'); this.writeLinkFile(); }
    if (this.stopping || !this.client) return;
    if (this.reconnectTimer) return;
    this.reconnectAttempts++;
    const delay = backoffDelay(this.reconnectAttempts, { baseMs: this.o.reconnectBaseMs, maxMs: this.o.reconnectMaxMs });
    this.log.info({ delayMs: delay, attempt: this.reconnectAttempts }, 'uplink disconnected; reconnecting');
    this.emit('reconnecting', { delayMs: delay, attempt: this.reconnectAttempts });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      const c = this.client;
      if (this.stopping || !c) return;
      this.nextSession();
      if (c.options.will) c.options.will.payload = this.willPayload();
      c.reconnect();
    }, delay);
  }

  private async onConnect(sessionPresent: boolean, maxPacket: number | undefined): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.connected = true;
    this.reconnectAttempts = 0;
    this.meter.reset();
    this.brokerMaxPacket = maxPacket ?? null;
    this.log.info({ session: this.session, sessionPresent, brokerMaxPacket: maxPacket ?? null }, 'uplink connected');
    // A new broker session lost whatever receipts were queued for us: resend everything in flight now.
    if (!sessionPresent) {
      for (const p of this.pending.values()) p.dueAt = 0;
      if (this.auditInFlight) this.auditInFlight.dueAt = 0;
    }
    // The broker kept our session, and with it our subscriptions: data can go at once, while the
    // subscription is renewed (two round trips saved after every drop of a mobile link).
    if (sessionPresent) this.kick();
    try {
      const subAt = Date.now();
      await new Promise<void>((resolve, reject) => {
        client.subscribe(
          [this.t.receipt(this.o.stationId), this.t.cmdWildcard(this.o.stationId), this.t.ingestWildcard(), this.t.status(this.o.stationId)],
          { qos: 1 },
          (err, granted) => {
            if (err) return reject(err);
            const refused = (granted ?? []).filter((g) => g.qos === 128);
            if (refused.length) this.log.error({ topics: refused.map((g) => g.topic) }, 'broker refused some subscriptions (check the ACL)');
            this.meter.rttSample(Date.now() - subAt); // SUBSCRIBE → SUBACK: one clean round trip per connection
            resolve();
          },
        );
      });
      await this.publishStatusOnline();
      this.emit('connected', { session: this.session, sessionPresent });
      this.writeLinkFile();
      const queued = this.eventQueue.splice(0);
      for (const ev of queued) await this.publish(this.t.events(this.o.stationId), Buffer.from(JSON.stringify(ev)), {});
      void this.publishHealth();
    } catch (e) {
      this.log.warn({ err: e }, 'uplink setup after connect failed');
    }
    this.kick();
  }

  private async publishStatusOnline(): Promise<void> {
    const p: StatusPayload = { v: 1, state: 'online', session: this.session, at: Date.now(), ...(this.o.version ? { version: this.o.version } : {}) };
    await this.publish(this.t.status(this.o.stationId), Buffer.from(JSON.stringify(p)), { retain: true });
  }

  /**
   * QoS 1 publish resolved on PUBACK. Rejected when the connection closes first:
   * mqtt.js would keep the packet for the next connection and call back much
   * later (or never); our own resend logic owns retries instead.
   */
  private publish(topic: string, payload: Buffer, opts: { retain?: boolean; expirySec?: number }): Promise<void> {
    const client = this.client;
    if (!client) return Promise.reject(new Error('uplink not started'));
    const v5 = (this.o.protocolVersion ?? 5) === 5;
    return new Promise((resolve, reject) => {
      let done = false;
      const abort = (): void => { if (!done) { done = true; reject(new Error('connection closed before PUBACK')); } };
      this.onCloseWaiters.add(abort);
      const mark = this.meter.mark();
      client.publish(topic, payload, {
        qos: 1, retain: opts.retain ?? false,
        ...(v5 && opts.expirySec ? { properties: { messageExpiryInterval: opts.expirySec } } : {}),
      }, (err) => {
        this.onCloseWaiters.delete(abort);
        if (done) return;
        done = true;
        if (err) { reject(err); return; }
        this.meter.onAck(mark, payload.length);
        resolve();
      });
    });
  }

  // ------------------------------------------------------------ incoming

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    try {
      if (topic === this.t.receipt(this.o.stationId)) return this.onReceipt(payload);
      const parsed = this.t.parse(topic);
      if (parsed?.leaf === 'cmd' && parsed.stationId === this.o.stationId) { void this.onCommand(parsed.name!, payload); return; }
      if (parsed?.leaf === 'status' && parsed.stationId === this.o.stationId) return this.onOwnStatus(payload);
      if (topic.startsWith(`${this.t.prefix}/hq/ingest/`)) return this.onIngestFlag(topic, payload, packet.retain);
      this.log.debug({ topic }, 'message on unexpected topic dropped');
    } catch (e) {
      this.log.warn({ err: e, topic }, 'malformed message dropped');
    }
  }

  private onIngestFlag(topic: string, payload: Buffer, _retained: boolean): void {
    const worker = topic.slice(`${this.t.prefix}/hq/ingest/`.length);
    const wasPaused = this.paused();
    const hadOnline = [...this.ingestFlags.values()].some((v) => v);
    if (payload.length === 0) {
      this.ingestFlags.delete(worker);
      this.ingestFlagAt.delete(worker);
    } else {
      const checked = parsePayload('ingest', payload);
      if (!checked.ok) throw new Error(`ingest flag refused: ${checked.error}`);
      const f: IngestFlagPayload = checked.value;
      // A worker's will carries the time it connected: older than the "online" it published since.
      const last = this.ingestFlagAt.get(worker);
      if (typeof f.at === 'number' && last !== undefined && f.at < last) {
        this.log.debug({ worker, at: f.at, last }, 'stale ingest flag (an older connection\'s will) ignored');
        return;
      }
      if (typeof f.at === 'number') this.ingestFlagAt.set(worker, f.at);
      this.ingestFlags.set(worker, f.online);
    }
    const nowPaused = this.paused();
    const nowOnline = [...this.ingestFlags.values()].some((v) => v);
    // No worker was known to be online and one now is: a batch published before its subscription
    // existed was dropped by the broker, so resend now rather than after the receipt timeout
    // (a batch that did arrive is answered "duplicate").
    if ((wasPaused && !nowPaused) || (!hadOnline && nowOnline && this.pending.size > 0)) {
      this.log.info('headquarters ingest online: resending in-flight batches');
      const now = Date.now();
      for (const p of this.pending.values()) if (!p.sending) p.dueAt = now;
      if (this.auditInFlight) this.auditInFlight.dueAt = now;
      this.kick();
    } else if (!wasPaused && nowPaused) {
      this.log.info('headquarters ingest offline: uploads paused');
    }
  }

  /** Paused while every ingest worker we have heard of says it is offline (none heard of: not paused). */
  private paused(): boolean {
    if (this.ingestFlags.size === 0) return false;
    for (const v of this.ingestFlags.values()) if (v) return false;
    return true;
  }

  /** A late will of an older session overwrote our retained status: say "online" again. */
  private onOwnStatus(payload: Buffer): void {
    if (payload.length === 0 || !this.connected || this.stopping) return;
    const checked = parsePayload('status', payload);
    if (!checked.ok) throw new Error(`own status refused: ${checked.error}`);
    const s: StatusPayload = checked.value;
    if (s.state !== 'online' && s.session < this.session) {
      this.log.info({ staleSession: s.session, session: this.session }, 'stale status from an older session; republishing online');
      void this.publishStatusOnline().catch(() => undefined);
    }
  }

  private securityEvent(reason: string, data: Record<string, unknown>): void {
    this.log.warn({ security: true, ...data }, reason);
    this.emit('security', { reason, ...data });
    void this.publishEvent('security', { reason, ...data }).catch(() => undefined);
  }

  private onReceipt(raw: Buffer): void {
    const v = verifySignedBody(raw, this.trust.receipts, ['receipt', 'audit-ack', 'time']);
    if (!v.ok) {
      this.securityEvent(`receipt ignored: ${v.reason}`, { kind: 'receipt-invalid' });
      return;
    }
    if (v.body.type === 'audit-ack') return this.onAuditAck(v.body);
    if (v.body.type === 'time') return this.onTime(v.body);
    const r: ReceiptBody = v.body;
    if (r.stationId !== this.o.stationId) {
      this.securityEvent('receipt ignored: not addressed to this station or malformed', { kind: 'receipt-mismatch', batchId: String(r.batchId) });
      return;
    }
    const p = this.pending.get(r.batchId);
    if (!p) {
      if (this.recentlyAcked.has(r.batchId)) {
        this.log.debug({ batchId: r.batchId }, 'second receipt for an acknowledged batch');
      } else {
        this.securityEvent('receipt ignored: unknown batch', { kind: 'receipt-unknown-batch', batchId: r.batchId });
      }
      return;
    }
    const mismatch = this.receiptMismatch(p.batch, r);
    if (mismatch) {
      this.securityEvent(`receipt ignored: ${mismatch}`, { kind: 'receipt-mismatch', batchId: r.batchId });
      return;
    }
    if (this.ackQueue.some((q) => q.batchId === r.batchId)) {
      this.log.debug({ batchId: r.batchId }, 'second receipt for a batch being acknowledged');
      return;
    }
    const results: ReceiptResult[] = r.results.map((x) => ({
      recordId: x.recordId, sha256: x.sha256, status: x.status,
      ...(x.reason ? { reason: x.reason } : {}), ...(x.detail ? { detail: x.detail } : {}), ...(x.retryAfterS ? { retryAfterMs: x.retryAfterS * 1000 } : {}),
    }));
    // Headquarters signed `at` after this batch first left and before now: a bounded sample of true time.
    if (typeof r.at === 'number' && p.firstSentMono !== null && !p.inherited) this.emit('hq-time', { at: r.at, sentMono: p.firstSentMono, receivedMono: performance.now(), source: 'receipt' });
    // Receipts that arrive together (headquarters commits batches in groups) are stored in one
    // vault transaction, one fsync, as soon as this burst of incoming packets has been read.
    this.ackQueue.push({ batchId: r.batchId, receipt: raw, results });
    if (!this.ackScheduled) {
      this.ackScheduled = true;
      setImmediate(() => this.flushAcks());
    }
  }

  /** Stores the queued receipts in the vault; only then are their batches done. */
  private flushAcks(): void {
    this.ackScheduled = false;
    const q = this.ackQueue;
    this.ackQueue = [];
    if (q.length === 0) return;
    let errors: (Error | null)[];
    try {
      errors = this.o.outbox.acknowledgeMany
        ? this.o.outbox.acknowledgeMany(q)
        : q.map((x) => {
            try { this.o.outbox.acknowledge(x.batchId, x.receipt, x.results); return null; } catch (e) { return e as Error; }
          });
    } catch (e) {
      errors = q.map(() => e as Error);
    }
    q.forEach(({ batchId, results }, i) => {
      if (errors[i]) {
        this.log.error({ err: errors[i], batchId }, 'vault could not store the receipt; the batch stays in flight');
        return;
      }
      const acked = this.pending.get(batchId);
      if (acked) this.drained.push({ at: Date.now(), from: acked.firstSentAt ?? Date.now(), bytes: acked.batch.items.reduce((n, i) => n + i.envelope.length, 0) });
      this.pending.delete(batchId);
      this.recentlyAcked.set(batchId, Date.now());
      if (this.recentlyAcked.size > 1000) this.recentlyAcked.delete(this.recentlyAcked.keys().next().value!);
      this.lastReceiptAt = Date.now();
      const rejected = results.filter((x) => x.status === 'rejected');
      if (rejected.length) this.log.warn({ batchId, rejected: rejected.map((x) => ({ recordId: x.recordId, reason: x.reason, detail: x.detail })) }, 'headquarters rejected records; they are kept (station outbox requeue, once the cause is fixed)');
      const held = results.filter((x) => x.status === 'held');
      if (held.length) this.log.warn({ batchId, held: held.map((x) => ({ recordId: x.recordId, reason: x.reason, detail: x.detail })) }, 'headquarters held records back; they are kept and retried');
      this.log.debug({ batchId, records: results.length }, 'batch acknowledged');
      this.emit('acknowledged', { batchId, results });
    });
    this.healthSoon();
    this.linkFileSoon();
    this.kick();
  }

  private receiptMismatch(b: PendingBatch, r: ReceiptBody): string | null {
    if (r.results.length !== b.items.length) return `receipt names ${r.results.length} records, batch has ${b.items.length}`;
    const byId = new Map(b.items.map((i) => [i.recordId, i]));
    const seen = new Set<string>();
    for (const x of r.results) {
      const item = byId.get(x.recordId);
      if (!item || seen.has(x.recordId)) return `receipt names record ${String(x.recordId)} not in the batch`;
      seen.add(x.recordId);
      // a record headquarters keeps back (held/rejected) may echo other bytes; one it releases must not
      if ((x.status === 'stored' || x.status === 'duplicate') && x.sha256 !== item.sha256) return `hash headquarters received for ${x.recordId} differs from what was sealed`;
    }
    if (r.batchHash !== batchHash(b.batchId, b.items)) {
      // Rejected records may echo another hash; the batch hash then differs legitimately only if every
      // mismatching record was rejected. Recompute with HQ's hashes to check consistency.
      const hq = batchHash(b.batchId, b.items.map((i) => ({ recordId: i.recordId, sha256: r.results.find((x) => x.recordId === i.recordId)!.sha256 })));
      if (hq !== r.batchHash) return 'batch hash does not match';
    }
    return null;
  }

  /**
   * Trusts the receipt and ops keys of a new headquarters identity from now on
   * (it lists every generation, so receipts and commands of the old signers
   * still verify during the rotation).
   */
  setHqIdentity(identity: HqPublicIdentity): void {
    this.trust = resolveTrust(identity);
    this.hqSerial = identity.serial;
    this.verifier.setOpsKeys(this.trust.ops);
    this.log.info({ serial: identity.serial, receiptKeys: this.trust.receipts.size, opsKeys: this.trust.ops.size }, 'headquarters identity updated');
  }

  private async onCommand(name: string, payload: Buffer): Promise<void> {
    // The answer is signed with the key current when the command arrived: the answer to rotate-key
    // is the old key vouching for the new one (headquarters still holds only the old one).
    const key = this.signingKey();
    const v = this.verifier.verify(payload, name);
    if (!v.ok) {
      this.securityEvent(`command refused: ${v.reason}`, { kind: 'command-refused', code: v.code, commandId: v.id, command: v.name });
      await this.answer(resultBody(this.o.stationId, v.id, v.name, 'refused', { code: v.code, message: v.reason }), key);
      return;
    }
    const c = v.command;
    this.log.info({ commandId: c.id, command: c.name, expiryJudgedBy: v.timeSource ?? null }, v.timeSource === 'trusted' || v.timeSource === undefined ? 'command received' : v.timeSource === 'wall' ? 'command received; its expiry was judged by the local clock (no signed time from headquarters yet)' : 'command received without checking its expiry: the clock is unset and no signed time has arrived (a command that can only tighten the station)');
    try {
      let data: Record<string, unknown> | void = undefined;
      checkCommandArgs(c.name, c.args); // before any effect: unknown arguments are refused (CMD_BAD_ARGS)
      if (c.name === 'sync-now') this.syncNow();
      if (c.name === 'request-health') await this.publishHealth();
      let identity: HqPublicIdentity | null = null;
      if (c.name === 'update-hq-key') {
        identity = hqIdentityArg(c.args);
        if (identity.serial < this.hqSerial) {
          throw Object.assign(new Error(`headquarters identity serial ${identity.serial} is older than the one in use (${this.hqSerial}); kept the current one`), { code: 'CMD_HQ_IDENTITY_OLDER' });
        }
      }
      if (this.o.commands) {
        data = await dispatchCommand(c, this.o.commands);
      } else if (c.name !== 'sync-now' && c.name !== 'request-health') {
        throw Object.assign(new Error('this station has no command handlers'), { code: 'CMD_UNSUPPORTED' });
      }
      if (identity) this.setHqIdentity(identity);
      this.emit('command', c);
      await this.answer(resultBody(this.o.stationId, c.id, c.name, 'ok', data ? { data } : {}), key);
    } catch (e) {
      const err = e as { code?: unknown; message?: string };
      await this.answer(resultBody(this.o.stationId, c.id, c.name, 'error', {
        code: typeof err.code === 'string' ? err.code : 'CMD_FAILED', message: err.message ?? String(e),
      }), key);
    }
  }

  private async answer(body: ReturnType<typeof resultBody>, key: KeyObject = this.signingKey()): Promise<void> {
    try {
      await this.publish(this.t.cmdRes(this.o.stationId), encodeSigned(signMessage(body, key)), {});
    } catch (e) {
      this.log.warn({ err: e }, 'could not publish command result');
    }
  }

  // ------------------------------------------------------------ audit chain

  private auditFile(): string | null {
    return this.o.dataDir ? join(this.o.dataDir, 'uplink', 'audit.json') : null;
  }

  private loadAuditAcked(): number {
    return this.loadCounter(SMALL_STATE_KEYS.auditAcked, this.auditFile(), 'acked');
  }

  private saveAuditAcked(): void {
    try {
      this.saveCounter(SMALL_STATE_KEYS.auditAcked, this.auditFile(), 'acked', this.auditAcked);
    } catch (e) {
      // Not fatal: after a restart the slice from the last persisted head is sent again, and
      // headquarters answers it with the head it holds.
      this.log.warn({ err: e }, 'could not persist the acknowledged audit head; continuing with it in memory');
    }
  }

  /** Headquarters' signed time, answering one of our recent health messages (the nonce says which, and so when we asked). */
  private onTime(b: TimeBody): void {
    if (b.stationId !== this.o.stationId) {
      this.securityEvent('signed time ignored: not for this station', { kind: 'receipt-mismatch' });
      return;
    }
    const sentMono = this.timeAsked.get(b.nonce);
    if (sentMono === undefined) {
      // a second worker's answer, or one to a health from before a restart: no window to bound it
      this.log.debug({ nonce: b.nonce }, 'signed time for a health message not asked by this process; ignored');
      return;
    }
    this.timeAsked.delete(b.nonce);
    this.emit('hq-time', { at: b.at, sentMono, receivedMono: performance.now(), source: 'health' });
  }

  private onAuditAck(a: AuditAckBody): void {
    if (a.stationId !== this.o.stationId) {
      this.securityEvent('audit acknowledgement ignored: not for this station', { kind: 'receipt-mismatch' });
      return;
    }
    const advanced = a.seq > this.auditAcked;
    // Headquarters' head is the truth: lower means it lost entries; resend from there.
    this.auditAcked = a.seq;
    this.saveAuditAcked();
    if (a.error) {
      this.log.error({ seq: a.seq, error: a.error }, 'headquarters refused part of the audit chain');
      this.emit('audit-error', a);
    }
    this.auditAttempts = advanced && !a.error ? 0 : this.auditAttempts;
    const stuck = !advanced && this.auditInFlight !== null;
    if (stuck || a.error) {
      // No progress: keep the in-flight marker so the next slice waits for its backoff.
      if (this.auditInFlight) this.auditInFlight.dueAt = Date.now() + backoffDelay(++this.auditAttempts, { baseMs: this.o.receiptTimeoutMs, maxMs: this.o.receiptTimeoutMaxMs });
    } else {
      this.auditInFlight = null;
    }
    this.emit('audit-acknowledged', { seq: a.seq });
    this.kick();
  }

  private async sendAudit(): Promise<void> {
    if (!this.auditSource || !this.connected || this.stopping) return;
    if (this.auditInFlight && Date.now() < this.auditInFlight.dueAt) return;
    let entries: AuditEntryPayload[];
    try {
      entries = this.auditSource.auditEntriesSince(this.auditAcked, this.o.auditSliceEntries ?? 500);
    } catch (e) {
      this.log.warn({ err: e }, 'could not read the audit chain');
      return;
    }
    if (entries.length === 0) { this.auditInFlight = null; return; }
    // keep the slice under the packet cap
    let payload = Buffer.from(JSON.stringify({ v: 1, stationId: this.o.stationId, entries } satisfies AuditSlicePayload));
    while (payload.length > this.frameCap() && entries.length > 1) {
      entries = entries.slice(0, Math.ceil(entries.length / 2));
      payload = Buffer.from(JSON.stringify({ v: 1, stationId: this.o.stationId, entries } satisfies AuditSlicePayload));
    }
    const attempts = this.auditInFlight ? this.auditInFlight.attempts + 1 : 1;
    this.auditInFlight = { upTo: entries[entries.length - 1]!.seq, dueAt: Date.now() + backoffDelay(attempts, { baseMs: this.o.receiptTimeoutMs, maxMs: this.o.receiptTimeoutMaxMs }), attempts };
    try {
      await this.publish(this.t.audit(this.o.stationId), payload, {});
    } catch (e) {
      this.log.info({ err: { message: (e as Error).message } }, 'audit slice publish failed; will resend');
    }
  }

  // ------------------------------------------------------------ sending

  private frameCap(): number {
    let cap = this.o.maxPacketBytes;
    if (this.brokerMaxPacket) cap = Math.min(cap, this.brokerMaxPacket);
    return cap - PACKET_OVERHEAD;
  }

  private kick(): void {
    if (this.pumping) { this.again = true; return; }
    this.pumping = (async () => {
      try {
        do {
          this.again = false;
          await this.pumpOnce();
        } while (this.again && this.connected && !this.stopping);
      } catch (e) {
        this.log.error({ err: e }, 'uplink send loop failed; retrying later');
        this.schedule(Date.now() + 5_000);
      } finally {
        this.pumping = null;
      }
    })();
  }

  /** Batches taking a window slot: being published, or published and waiting for their receipt. */
  private awaitingCount(): number {
    let n = 0;
    const now = Date.now();
    for (const p of this.pending.values()) if (p.sending || (p.sentAt !== null && now < p.dueAt)) n++;
    return n;
  }

  /**
   * Publishes a batch without holding up the pump: the window's batches are on the wire together
   * (mqtt.js keeps several QoS 1 publishes in flight), instead of each waiting for the previous
   * one's PUBACK. When it is out, the pump runs again (to fill the window, and to schedule).
   */
  private launch(p: Pending): void {
    p.sending = true;
    const sending = this.send(p).finally(() => {
      this.sends.delete(sending);
      this.kick();
    });
    this.sends.add(sending);
  }

  private async pumpOnce(): Promise<void> {
    if (!this.connected || this.stopping) return;
    // Paused: nothing is scheduled; the ingest flag coming back (or sync-now) kicks the pump.
    if (this.paused() && !this.forceOnce) { this.schedule(Infinity); return; }
    const force = this.forceOnce;
    this.forceOnce = false;
    let retryAt = Infinity;
    // 1) resend due in-flight batches, oldest first
    for (const p of [...this.pending.values()].sort((a, b) => a.batch.createdAt - b.batch.createdAt)) {
      if (!this.connected || this.stopping) return;
      if (p.sending || Date.now() < p.dueAt) continue;
      if (this.awaitingCount() >= this.o.maxInFlightBatches) break;
      this.launch(p);
    }
    // 2) open new batches while the window has room
    while (this.connected && !this.stopping && (force || !this.paused()) && this.awaitingCount() < this.o.maxInFlightBatches) {
      const cap = this.frameCap();
      const maxRecords = this.o.maxBatchRecords;
      // On a slow link batches are sized to its frames, so a batch of small records is one frame and
      // a drop costs only the frames in flight; a record larger than a frame goes alone, in chunks.
      const frame = this.link().frameBytes;
      const maxBytes = frame < cap ? Math.max(1024, Math.floor(frame * 0.8)) : Math.max(1024, cap - 1024 - maxRecords * HEADER_PER_RECORD);
      const room = this.o.maxInFlightBatches - this.awaitingCount();
      let opened: PendingBatch[];
      try {
        // As many batches as the window has room for, in one vault transaction when it can.
        if (this.o.outbox.openBatches) opened = this.o.outbox.openBatches(room, maxRecords, maxBytes);
        else {
          const b = this.o.outbox.openBatch(maxRecords, maxBytes);
          opened = b ? [b] : [];
        }
      } catch (e) {
        this.log.error({ err: e }, 'vault could not open a batch (tampered row?); will retry');
        this.emit('outbox-error', e);
        retryAt = Date.now() + Math.min(30_000, this.o.receiptTimeoutMs);
        break;
      }
      if (opened.length === 0) break;
      for (const b of opened) {
        const p = this.newPending(b);
        this.pending.set(b.batchId, p);
        this.launch(p);
      }
    }
    if (force || !this.paused()) await this.sendAudit();
    // Records sealed since this pass (without a notify()) are picked up by the next poll.
    this.schedule(Math.min(this.nextDue(), retryAt, Date.now() + this.o.idlePollMs));
  }

  /**
   * When the pump must run again by itself. With the window full only a batch
   * awaiting its receipt can time out and free a slot (a receipt kicks the pump
   * anyway); otherwise the earliest due resend.
   */
  private nextDue(): number {
    const now = Date.now();
    const windowFull = this.awaitingCount() >= this.o.maxInFlightBatches;
    let t = Infinity;
    for (const p of this.pending.values()) {
      if (p.sending) continue;
      if (windowFull && !(p.sentAt !== null && p.dueAt > now)) continue;
      t = Math.min(t, p.dueAt);
    }
    if (this.auditInFlight) t = Math.min(t, Math.max(this.auditInFlight.dueAt, now + 100));
    return t;
  }

  private schedule(at: number): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (!Number.isFinite(at) || this.stopping) return;
    this.timer = setTimeout(() => { this.timer = null; this.kick(); }, Math.max(0, at - Date.now()) + 5);
    this.timer.unref();
  }

  /**
   * Publishes a batch's frames through the byte window (several in flight at once, so one large
   * record keeps the pipe full too). After a drop only the frames the broker had not acknowledged go
   * again — headquarters keeps the chunks it has — and the batch is due again as soon as the link is
   * back (the reconnect backoff paces that, not the batch). A whole resend happens only when the
   * receipt did not come in time.
   */
  private async send(p: Pending): Promise<void> {
    const b = p.batch;
    p.sending = true;
    let bytes = 0;
    let resent = 0;
    try {
      if (p.complete) { p.acked.clear(); p.complete = false; }
      this.o.outbox.markAttempt(b.batchId);
      b.attempts += 1;
      b.lastAttemptAt = Date.now();
      p.frameBytes ??= this.link().frameBytes;
      const frames = buildFrames({ stationId: this.o.stationId, batchId: b.batchId, attempt: b.attempts, items: b.items }, Math.min(this.frameCap(), p.frameBytes));
      if (frames.length !== p.frameCount) {
        // cut differently (first send, or the broker's limit changed): nothing of an earlier cut counts
        p.acked.clear();
        p.frameCount = frames.length;
      }
      const topic = this.t.batch(this.o.stationId);
      const inFlight: Promise<void>[] = [];
      let failure: unknown = null;
      for (let i = 0; i < frames.length && failure === null; i++) {
        if (p.acked.has(i)) continue;
        const f = frames[i]!;
        const gen = await this.window.acquire(f.length, p.seq);
        if (gen === null || !this.connected || this.stopping) throw new Disconnected();
        p.firstSentAt ??= Date.now();
        p.firstSentMono ??= performance.now();
        if (p.written.has(i)) { resent += f.length; this.bytesResent += f.length; }
        p.written.add(i);
        bytes += f.length;
        this.bytesSent += f.length;
        inFlight.push(this.publish(topic, f, {}).then(
          () => { p.acked.add(i); },
          (e: unknown) => { failure ??= e; },
        ).finally(() => this.window.release(f.length, gen)));
      }
      await Promise.all(inFlight);
      if (failure !== null) throw failure;
      p.complete = true;
      p.sentAt = Date.now();
      p.dueAt = p.sentAt + backoffDelay(b.attempts, { baseMs: this.o.receiptTimeoutMs, maxMs: this.o.receiptTimeoutMaxMs });
      this.log.debug({ batchId: b.batchId, records: b.items.length, frames: frames.length, bytes, resentBytes: resent, attempt: b.attempts }, 'batch published');
      this.emit('sent', { batchId: b.batchId, records: b.items.length, frames: frames.length, attempt: b.attempts, bytes, resentBytes: resent });
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (e instanceof Disconnected || !this.connected || this.stopping) {
        // The link went away: due again as soon as it is back; what the broker acknowledged stays done.
        this.log.info({ batchId: b.batchId, framesAcked: p.acked.size, frames: p.frameCount }, 'link lost while sending a batch; the rest goes when it is back');
        p.sentAt = null;
        p.dueAt = 0;
        return;
      }
      if (code === 0x95 || code === 0x97) {
        // Packet too large / quota: halve our cap so the next attempt is chunked smaller.
        this.o.maxPacketBytes = Math.max(16 * 1024, Math.floor(this.frameCap() / 2));
        p.frameBytes = null;
        this.log.warn({ batchId: b.batchId, reasonCode: code, maxPacketBytes: this.o.maxPacketBytes }, 'broker refused a batch as too large; chunking smaller');
      } else {
        this.log.info({ batchId: b.batchId, err: { message: (e as Error).message, code } }, 'batch publish failed; will resend');
      }
      p.sentAt = Date.now();
      p.dueAt = Date.now() + backoffDelay(b.attempts, { baseMs: Math.min(this.o.receiptTimeoutMs, 2_000), maxMs: this.o.receiptTimeoutMaxMs });
    } finally {
      p.sending = false;
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, () => { clearTimeout(t); resolve(undefined); });
  });
}
