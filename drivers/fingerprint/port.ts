/**
 * The serial port seam. The driver never constructs a port itself: it is given a factory.
 * Production passes `serialPortFactory` (node-serialport); anything with the same small
 * surface works (tests use the real one on pseudo-terminals).
 */
import { EventEmitter } from 'node:events';
import { existsSync, realpathSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { DisconnectedError, StationError } from '../common/errors';

export interface SerialLike extends EventEmitter {
  readonly isOpen: boolean;
  open(cb: (err: Error | null) => void): void;
  close(cb?: (err: Error | null) => void): void;
  write(data: Buffer, cb?: (err: Error | null | undefined) => void): boolean;
  drain(cb: (err: Error | null) => void): void;
  update(opts: { baudRate: number }, cb?: (err: Error | null) => void): void;
}

export interface PortOpenOptions {
  path: string;
  baudRate: number;
}

export type PortFactory = (opts: PortOpenOptions) => SerialLike;

/** node-serialport, 8N1, opened later by the driver (constructor does no I/O). */
export const serialPortFactory: PortFactory = ({ path, baudRate }) =>
  new SerialPort({ path, baudRate, dataBits: 8, parity: 'none', stopBits: 1, autoOpen: false }) as unknown as SerialLike;

/**
 * An open line to the module: raw bytes out through `onBytes`, typed errors in, disconnect
 * detection. node-serialport reports a vanished USB adapter with a 'close' event; a closed
 * pseudo-terminal only shows up as a failing write or a vanished path, so while open the
 * path is also watched.
 */
export class Line extends EventEmitter {
  private port?: SerialLike;
  private watch?: NodeJS.Timeout;
  private _baud: number;
  private _connected = false;
  /** Time of the last byte received (ms, performance.now()). */
  lastByteAt = 0;

  constructor(
    readonly path: string,
    baud: number,
    private readonly factory: PortFactory,
    private readonly onBytes: (b: Buffer) => void,
    private readonly watchMs = 200,
  ) {
    super();
    this._baud = baud;
  }

  get baud(): number {
    return this._baud;
  }
  get connected(): boolean {
    return this._connected;
  }

  async open(baud = this._baud): Promise<void> {
    if (this._connected) return;
    this._baud = baud;
    const port = this.factory({ path: this.path, baudRate: baud });
    await new Promise<void>((resolve, reject) => {
      port.open((err) => {
        if (!err) return resolve();
        const gone = /ENOENT|No such file|cannot open/i.test(err.message) && !existsSync(this.path);
        if (gone) {
          reject(new DisconnectedError('FP_PORT_MISSING', `fingerprint scanner port ${this.path} does not exist`, {
            hint: 'check the USB cable / the configured port; on a Raspberry Pi use /dev/serial0 or a /dev/serial/by-id/ name', cause: err,
          }));
        } else {
          reject(new StationError('FP_PORT_OPEN', `cannot open fingerprint scanner port ${this.path}: ${err.message}`, {
            hint: /busy|lock/i.test(err.message) ? 'another program holds the port; stop it (e.g. a running station daemon or a serial console)' : 'check permissions (dialout group) and that the path is a serial device',
            cause: err,
          }));
        }
      });
    });
    this.port = port;
    this._connected = true;
    port.on('data', (d: Buffer) => {
      this.lastByteAt = performance.now();
      this.onBytes(d);
    });
    port.on('close', (err?: Error & { disconnected?: boolean }) => {
      if (this.port !== port) return;
      this.lost(err?.disconnected ? err : undefined);
    });
    port.on('error', (err: Error) => {
      if (this.port !== port) return;
      if (/EIO|ENXIO|EBADF|disconnected/i.test(err.message)) this.lost(err);
      else this.emit('warning', err);
    });
    const target = realTarget(this.path);
    this.watch = setInterval(() => {
      const now = realTarget(this.path);
      if (now === undefined) this.lost(new Error(`${this.path} disappeared`));
      else if (now !== target) this.lost(new Error(`${this.path} now points to another device (${now})`));
    }, this.watchMs);
    this.watch.unref();
  }

  private lost(cause?: Error): void {
    if (!this._connected) return;
    this._connected = false;
    if (this.watch) clearInterval(this.watch);
    this.watch = undefined;
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) port.close(() => undefined);
    this.emit('disconnected', cause);
  }

  /** A DisconnectedError naming the port. `onWrite`: nothing reached the device. */
  disconnectedError(cause?: unknown, onWrite = false): DisconnectedError {
    const e = new DisconnectedError('FP_DISCONNECTED', `fingerprint scanner on ${this.path} was disconnected`, {
      hint: 'check the cable and power; the station reconnects when the device comes back', cause,
    });
    if (onWrite) Object.defineProperty(e, 'onWrite', { value: true });
    return e;
  }

  async write(data: Buffer): Promise<void> {
    const port = this.port;
    if (!port || !this._connected) throw this.disconnectedError(undefined, true);
    await new Promise<void>((resolve, reject) => {
      port.write(data, (err) => {
        if (err) {
          this.lost(err);
          return reject(this.disconnectedError(err, true));
        }
        port.drain((e) => {
          if (e) {
            this.lost(e);
            return reject(this.disconnectedError(e));
          }
          resolve();
        });
      });
    });
  }

  async setBaud(baud: number): Promise<void> {
    const port = this.port;
    if (!port || !this._connected) throw this.disconnectedError();
    await new Promise<void>((resolve, reject) => port.update({ baudRate: baud }, (err) => (err ? reject(new StationError('FP_BAUD', `cannot set ${this.path} to ${baud} baud: ${err.message}`, { cause: err })) : resolve())));
    this._baud = baud;
  }

  async close(): Promise<void> {
    if (this.watch) clearInterval(this.watch);
    this.watch = undefined;
    const port = this.port;
    this.port = undefined;
    this._connected = false;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}

function realTarget(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}
