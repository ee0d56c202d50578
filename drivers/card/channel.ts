/**
 * APDU transport on top of a raw card connection: T=0 status handling
 * (61xx → GET RESPONSE, 6Cxx → resend with the right Le), APDU counting,
 * and the shared interface both the pcsc and the simulated readers expose.
 */
import { joinResponse, splitResponse, swHex, type ResponseApdu } from './apdu';
import { StationError } from '../common/errors';

/** A raw connection to a card in one reader (no status-word handling). */
export interface RawCardConnection {
  readonly reader: string;
  readonly atr: Buffer;
  readonly protocol: 'T=0' | 'T=1';
  /** Sends one command APDU and returns the response (data ‖ SW1 SW2). */
  transmit(apdu: Buffer, timeoutMs: number): Promise<Buffer>;
  disconnect(): Promise<void>;
}

export interface ChannelOptions {
  /** Timeout per APDU exchange (default 5000 ms). */
  timeoutMs?: number;
  /** Use extended-length APDUs: true/false, or 'auto' to follow the ATR (default 'auto'). */
  extendedLength?: boolean | 'auto';
}

/** Does the ATR's historical bytes announce extended Lc/Le (card capabilities, 3rd byte bit 7)? */
export function atrSupportsExtendedLength(atr: Buffer): boolean {
  if (atr.length < 2) return false;
  // Walk T0/TDi to find the historical bytes.
  const t0 = atr[1]!;
  const k = t0 & 0x0f;
  let p = 2;
  let y = t0 >> 4;
  for (;;) {
    p += ((y & 1) ? 1 : 0) + ((y & 2) ? 1 : 0) + ((y & 4) ? 1 : 0);
    if (!(y & 8)) break;
    if (p >= atr.length) return false;
    y = atr[p]! >> 4;
    p += 1;
  }
  const hist = atr.subarray(p, p + k);
  if (hist[0] !== 0x80) return false;
  let q = 1;
  while (q < hist.length) {
    const tag = hist[q]! >> 4, len = hist[q]! & 0x0f;
    if (tag === 7 && len >= 3) return (hist[q + 3]! & 0x40) !== 0;
    q += 1 + len;
  }
  return false;
}

export class ApduChannel {
  readonly extendedLength: boolean;
  readonly timeoutMs: number;
  /** Number of APDU exchanges with the card, including GET RESPONSE and 6Cxx resends. */
  exchanges = 0;

  constructor(readonly conn: RawCardConnection, opts: ChannelOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    const ext = opts.extendedLength ?? 'auto';
    this.extendedLength = ext === 'auto' ? atrSupportsExtendedLength(conn.atr) : ext;
  }

  get reader(): string { return this.conn.reader; }
  get atr(): Buffer { return this.conn.atr; }

  private async raw(apdu: Buffer): Promise<ResponseApdu> {
    this.exchanges++;
    return splitResponse(await this.conn.transmit(apdu, this.timeoutMs));
  }

  /** Sends a command and returns the full response, resolving 61xx and 6Cxx. */
  async transmit(apdu: Buffer): Promise<ResponseApdu> {
    let r = await this.raw(apdu);
    for (let i = 0; (r.sw >> 8) === 0x6c && i < 2; i++) {
      // Wrong Le: resend the same command with Le = SW2 (case 2/4 short APDU).
      const resend = Buffer.from(apdu);
      resend[resend.length - 1] = r.sw & 0xff;
      r = await this.raw(resend);
    }
    if ((r.sw >> 8) === 0x61) {
      const parts: Buffer[] = [r.data];
      let guard = 0;
      while ((r.sw >> 8) === 0x61) {
        if (++guard > 300) throw new StationError('CARD_PROTOCOL', `card on ${this.reader} keeps answering 61xx to GET RESPONSE`, { hint: 'remove the card and try again' });
        r = await this.raw(Buffer.from([apdu[0]! & 0x03, 0xc0, 0x00, 0x00, r.sw & 0xff]));
        parts.push(r.data);
      }
      r = { data: Buffer.concat(parts), sw: r.sw };
    }
    return r;
  }

  /** As transmit, but returns the response as one buffer (data ‖ SW). */
  async transmitRaw(apdu: Buffer): Promise<Buffer> {
    const r = await this.transmit(apdu);
    return joinResponse(r.data, r.sw);
  }

  async close(): Promise<void> {
    await this.conn.disconnect();
  }
}

export function describeSw(sw: number): string {
  return `status ${swHex(sw)}`;
}
