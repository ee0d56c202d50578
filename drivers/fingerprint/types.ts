import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { FingerprintModel, ProtocolFamily } from './models';
import type { PortFactory } from './port';
import type { QualityReport } from './image';

export interface ScannerInfo {
  model: FingerprintModel;
  family: ProtocolFamily;
  label: string;
  port: string;
  baud: number;
  width: number;
  height: number;
  ppi: number;
  capacity: number;
  templateCount?: number;
  /** R30x: data packet size in bytes. */
  packetSize?: number;
  securityLevel?: number;
  /** R30x: module address. */
  address?: number;
  /** GT-521: firmware version; R503: hardware version. */
  firmware?: string;
  /** Module serial number where the module reports one. */
  serial?: string;
  /** R503 product model string. */
  productModel?: string;
}

export interface CapturedImage {
  width: number;
  height: number;
  ppi: number;
  /** 8-bit grey pixels, row-major. */
  pixels: Buffer;
  /** 8-bit grey PNG with the resolution in pHYs. */
  png: Buffer;
  quality: QualityReport;
  /** Wall time of the image upload from the module, ms. */
  uploadMs: number;
}

export interface WaitOptions {
  /** Give up after this long (ms). Default 15000. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Poll interval while waiting for a finger (ms). Default 100. */
  pollMs?: number;
}

export interface CaptureOptions extends WaitOptions {
  /** Wait for a finger first (default true). false = capture what is on the sensor now. */
  waitForFinger?: boolean;
}

export interface IdentifyResult {
  id: number;
  /** Match score where the module reports one (R30x). */
  score?: number;
}

/** A finger of this session the module's matcher says the finger just captured is. */
export interface SessionMatch {
  /** Finger position (1..10) of the earlier capture it matched. */
  position: number;
  /** R30x: the matcher's score. */
  score?: number;
}

export type LedMode = 'on' | 'off' | 'breathe' | 'flash';
export type LedColour = 'red' | 'blue' | 'purple' | 'green' | 'yellow' | 'cyan' | 'white';

export interface BaudResult {
  /** Speed the link runs at now. */
  active: number;
  /** Speed requested. */
  requested: number;
  /** true when the module and host moved to `requested` and it was verified. */
  switched: boolean;
  /** R30x: the module stores the new speed and uses it after the next power-up. */
  pendingPowerCycle?: boolean;
  reason?: string;
}

/** Optional touch/wake line (GPIO), adapted by the composition root. */
export interface TouchSignal {
  /** Resolves when the finger-present level is seen (or rejects on abort). */
  waitForTouch(signal?: AbortSignal): Promise<void>;
}

export interface ScannerOptions {
  model: FingerprintModel;
  /** Serial device path (/dev/serial0, /dev/serial/by-id/…, a pty). */
  port: string;
  /** Line speed to use; default the model's factory default. */
  baud?: number;
  logger?: Logger;
  /** Port factory; default node-serialport. */
  portFactory?: PortFactory;
  /** R30x module password (default 0). */
  password?: number;
  /** R30x module address (default 0xFFFFFFFF). */
  address?: number;
  /** Inactivity timeout: no byte for this long ends a wait (ms). Default 1500. */
  inactivityMs?: number;
  /** After opening, move to this faster speed with verification (GT-521: at once; R30x: stored for the next power-up). */
  upgradeBaud?: number;
  /** When the configured speed gets no answer, try the model's other speeds (default true). */
  autoBaud?: boolean;
  /** Checksum errors at a raised speed before falling back (default 3). */
  fallbackAfterChecksumErrors?: number;
  touch?: TouchSignal;
  /** After a disconnect, reconnect in the background when the device path comes back (default true). */
  autoReconnect?: boolean;
  reconnectIntervalMs?: number;
}

export interface ScannerEvents {
  fingerPresent: [];
  fingerRemoved: [];
  disconnected: [cause?: Error];
  reconnected: [];
  warning: [message: string];
  baudFallback: [result: BaudResult];
}

/** One interface for both protocol families. Constructors do no I/O. */
export interface FingerprintScanner extends EventEmitter {
  readonly model: FingerprintModel;
  readonly port: string;
  readonly connected: boolean;
  open(): Promise<ScannerInfo>;
  info(): Promise<ScannerInfo>;
  /** One non-blocking check. R30x: performs GenImg (a capture into the module's buffer). */
  isFingerPresent(): Promise<boolean>;
  waitForFinger(opts?: WaitOptions): Promise<void>;
  waitForFingerRemoved(opts?: WaitOptions): Promise<void>;
  captureImage(opts?: CaptureOptions): Promise<CapturedImage>;
  led(mode: LedMode, colour?: LedColour): Promise<void>;
  templateCount(): Promise<number>;
  /**
   * Store a template of the finger on the sensor in the module's library under `id`: the finger
   * is placed, lifted and placed again (R30x twice, GT-521 three times), as the module requires.
   */
  enroll(id: number, opts?: WaitOptions): Promise<void>;
  /** 1:N search of the finger on the sensor in the module's library; null when not found. */
  identify(opts?: WaitOptions): Promise<IdentifyResult | null>;
  deleteTemplates(id: number, count?: number): Promise<void>;
  clearTemplates(): Promise<void>;
  /**
   * Same finger twice (docs/fingerprint.md "Duplicate check"): the fingers kept in one enrollment
   * session live as templates in slots reserved at the top of the module's library, compared with
   * the module's own matcher. sessionBegin and sessionEnd empty those slots.
   */
  sessionBegin(): Promise<void>;
  /**
   * The finger just captured (captureImage, still in the module) against the session's kept
   * fingers except `position`. null = no match. Throws FP_POOR_IMAGE when the module cannot
   * extract features from it, FP_MATCHER when the matcher's answer makes no sense.
   */
  sessionMatch(position: number): Promise<SessionMatch | null>;
  /** Keep the finger just matched as `position`'s candidate (R30x: stays in its char buffer; GT: MakeTemplate). */
  sessionHold(position: number): Promise<void>;
  /** `position`'s candidate becomes the session's template for that finger (R30x: Store; GT: SetTemplate). */
  sessionCommit(position: number): Promise<void>;
  /** Drop `position`'s template (the finger was redone or recorded as an exception). */
  sessionForget(position: number): Promise<void>;
  /** Empty every reserved slot: nothing of the session stays in the module. */
  sessionEnd(): Promise<void>;
  /** Move to a faster (or slower) line speed with verification. */
  setBaud(baud: number): Promise<BaudResult>;
  /** Parser counters (discarded bytes, checksum errors) for diagnostics. */
  stats(): Record<string, number>;
  close(): Promise<void>;
}
