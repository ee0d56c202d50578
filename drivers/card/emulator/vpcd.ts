/**
 * Connects an emulated card to pcscd's vpcd reader driver. vpcd listens on TCP
 * (35963 = "Virtual PCD 00 00", 35964 = "Virtual PCD 00 01"); the card is the
 * client. Messages are a 2-byte big-endian length plus payload; a 1-byte payload
 * is a control (0 power off, 1 power on, 2 reset, 4 send ATR), anything longer is
 * a command APDU answered with the response APDU. Closing the socket = removal.
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { CardRemovedSignal, type EmulatedEmrtd } from './card';

export const VPCD_PORTS = [35963, 35964] as const;

export interface VpcdOptions {
  host?: string;
  port?: number;
  logger?: Logger;
}

/** Events: 'inserted', 'removed' (reason), 'error' is never emitted (socket errors become 'removed'). */
export class VpcdCardClient extends EventEmitter {
  private sock?: Socket;
  private buf = Buffer.alloc(0);
  private queue: Promise<void> = Promise.resolve();
  readonly host: string;
  readonly port: number;
  private readonly log?: Logger;

  constructor(readonly card: EmulatedEmrtd, opts: VpcdOptions = {}) {
    super();
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? VPCD_PORTS[0];
    this.log = opts.logger;
  }

  get inserted(): boolean { return this.sock !== undefined && !this.sock.destroyed; }

  /** Resolves when every APDU received so far has been answered (or dropped). */
  idle(): Promise<void> { return this.queue; }

  /** Puts the card on the reader (opens the TCP connection to vpcd). */
  insert(): Promise<void> {
    if (this.inserted) return Promise.resolve();
    this.card.reset();
    this.buf = Buffer.alloc(0);
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.host, port: this.port });
      s.setNoDelay(true);
      const onErr = (e: Error) => { s.destroy(); reject(e); };
      s.once('error', onErr);
      s.once('connect', () => {
        s.off('error', onErr);
        this.sock = s;
        s.on('data', (d) => this.onData(s, d));
        s.on('error', (e) => this.log?.debug({ err: e }, 'vpcd socket error'));
        s.on('close', () => {
          if (this.sock === s) { this.sock = undefined; this.emit('removed', 'connection closed'); }
        });
        this.emit('inserted');
        resolve();
      });
    });
  }

  /** Takes the card away (closes the connection). */
  remove(): Promise<void> {
    const s = this.sock;
    if (!s) return Promise.resolve();
    this.sock = undefined;
    return new Promise((resolve) => {
      s.once('close', () => resolve());
      s.destroy();
      this.emit('removed', 'taken away');
    });
  }

  private onData(s: Socket, d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 2) {
      const len = this.buf.readUInt16BE(0);
      if (this.buf.length < 2 + len) break;
      const msg = Buffer.from(this.buf.subarray(2, 2 + len));
      this.buf = this.buf.subarray(2 + len);
      this.queue = this.queue.then(() => this.handle(s, msg));
    }
  }

  private send(s: Socket, payload: Buffer): void {
    if (s.destroyed) return;
    const h = Buffer.alloc(2);
    h.writeUInt16BE(payload.length, 0);
    s.write(Buffer.concat([h, payload]));
  }

  private async handle(s: Socket, msg: Buffer): Promise<void> {
    if (s.destroyed) return;
    if (msg.length === 1) {
      switch (msg[0]) {
        case 0: this.card.reset(); return;
        case 1: case 2: this.card.reset(); return;
        case 4: this.send(s, this.card.atr); return;
        default: return;
      }
    }
    try {
      const resp = await this.card.process(msg);
      this.send(s, resp);
    } catch (e) {
      if (e instanceof CardRemovedSignal) {
        this.log?.debug('emulated card pulled away by fault mode');
        if (this.sock === s) { this.sock = undefined; this.emit('removed', 'fault mode'); }
        s.destroy();
        return;
      }
      this.log?.warn({ err: e }, 'emulated card failed on an APDU');
      this.send(s, Buffer.from([0x6f, 0x00]));
    }
  }
}
