/**
 * In-process reader holding an emulated eMRTD: the same APDU bytes as over
 * PC/SC, without pcscd. For the demo on a machine where pcscd is not running.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { DeviceTimeoutError, DisconnectedError, StationError } from '../common/errors';
import { ApduChannel, type ChannelOptions, type RawCardConnection } from './channel';
import { readDocument, type ChipReadResult, type ReadOptions } from './emrtd';
import { buildAtr, CardRemovedSignal, EmulatedEmrtd, type CardFaults, type PaceOptions } from './emulator/card';
import { buildDocument, createTestPki, documentCountry, type DocumentOptions, type EmrtdContents, type TestPki } from './emulator/document';
import type { CardReaderDriver, ReaderInfo } from './reader';
import { cscaStoreFrom, type CscaStore } from './passive-auth';

export const SIMULATED_READER_NAME = 'Simulated eMRTD reader';

export interface SimulatedOptions extends DocumentOptions {
  /**
   * Prebuilt document. Otherwise it is built from the DocumentOptions when the chip is first
   * spoken to (its test PKI at open()): the synthetic face takes sharp, and an idle booth on
   * simulated devices has no reason to hold libvips before anyone reads a card.
   */
  contents?: EmrtdContents;
  faults?: CardFaults;
  extendedLength?: boolean;
  /** The emulated chip speaks PACE (EF.CardAccess, CAN). */
  pace?: PaceOptions;
  /** The chip answers SELECT MF with 6D00 (Vietnamese citizen card). */
  noMfSelect?: boolean;
  /** Card on the reader right after open() (default true). */
  inserted?: boolean;
  logger?: Logger;
  apduTimeoutMs?: number;
}

export class SimulatedCardReader extends EventEmitter implements CardReaderDriver {
  readonly mode = 'simulated' as const;
  /** The emulated chip: at open() for a prebuilt document, else once `chip()` has built it. */
  card?: EmulatedEmrtd;
  contents?: EmrtdContents;
  private pki?: TestPki;
  private building?: Promise<EmulatedEmrtd>;
  private present = false;
  private opened = false;
  /** Bumped on each removal so connections to an earlier insertion fail. */
  private insertion = 0;

  constructor(private readonly opts: SimulatedOptions = {}) {
    super();
  }

  get serviceUp(): boolean { return this.opened; }

  /** The emulated document's own test CSCA, so a demo can show a "valid" verdict (never use for real documents). */
  testCsca(): CscaStore | undefined {
    const pki = this.contents?.pki ?? this.pki;
    return pki ? cscaStoreFrom([pki.csca.cert], 'the simulated card\'s test CSCA') : undefined;
  }

  /** The emulated chip, its document built on the first call (the same document every call after). */
  async chip(): Promise<EmulatedEmrtd> {
    if (this.card) return this.card;
    if (!this.opened) throw new StationError('CARD_NO_READER', 'the simulated reader is not open');
    this.building ??= buildDocument({ ...this.opts, pki: this.pki }).then((contents) => this.makeCard(contents));
    try {
      return await this.building;
    } catch (e) {
      this.building = undefined;
      throw e;
    }
  }

  /** The emulated document's contents (MRZ, files, PKI), built if it was not yet. */
  async document(): Promise<EmrtdContents> {
    await this.chip();
    return this.contents!;
  }

  private makeCard(contents: EmrtdContents): EmulatedEmrtd {
    this.contents = contents;
    this.card = new EmulatedEmrtd({ files: contents.files, mrzLines: contents.mrzLines, faults: this.opts.faults, extendedLength: this.opts.extendedLength, pace: this.opts.pace, noMfSelect: this.opts.noMfSelect, chipKeys: contents.chipKeys });
    return this.card;
  }

  /** Changes the emulated chip's faults from now on (the demo's trainer panel; tests). */
  setChipFaults(f: CardFaults): void {
    this.opts.faults = f;
    this.card?.setFaults(f);
  }

  async open(): Promise<void> {
    if (this.opened) return;
    if (this.opts.contents) this.makeCard(this.opts.contents);
    else this.pki = this.opts.pki ?? createTestPki(documentCountry(this.opts));
    this.opened = true;
    this.emit('reader-added', SIMULATED_READER_NAME);
    if (this.opts.inserted !== false) this.insert();
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.remove();
    this.opened = false;
    this.emit('reader-removed', SIMULATED_READER_NAME);
  }

  insert(): void {
    if (!this.opened || this.present) return;
    this.card?.reset();
    this.present = true;
    this.emit('card-inserted', { reader: SIMULATED_READER_NAME, atr: this.atr() });
  }

  remove(): void {
    if (!this.present) return;
    this.present = false;
    this.insertion++;
    this.emit('card-removed', { reader: SIMULATED_READER_NAME });
  }

  readers(): ReaderInfo[] {
    if (!this.opened) return [];
    return [{ name: SIMULATED_READER_NAME, cardPresent: this.present, atr: this.present ? this.atr() : undefined }];
  }

  private atr(): string {
    return (this.card?.atr ?? buildAtr(this.opts.extendedLength ?? false)).toString('hex').toUpperCase();
  }

  async waitForCard(opts: { reader?: string; timeoutMs?: number } = {}): Promise<ReaderInfo> {
    if (this.present) return this.readers()[0]!;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const on = () => { clearTimeout(t); resolve(this.readers()[0]!); };
      const t = setTimeout(() => { this.off('card-inserted', on); reject(new DeviceTimeoutError('CARD_NO_CARD', `no card was placed on ${SIMULATED_READER_NAME} within ${Math.round(timeoutMs / 1000)} s`, { hint: 'insert the simulated card' })); }, timeoutMs);
      this.once('card-inserted', on);
    });
  }

  async connect(reader?: string, opts: ChannelOptions = {}): Promise<ApduChannel> {
    if (!this.opened) throw new StationError('CARD_NO_READER', 'the simulated reader is not open');
    if (reader !== undefined && !SIMULATED_READER_NAME.includes(reader)) {
      throw new StationError('CARD_NO_READER', `no card reader matches "${reader}" (readers: ${SIMULATED_READER_NAME})`, { hint: 'use --reader "Simulated"' });
    }
    if (!this.present) throw new StationError('CARD_NO_CARD', `no card on reader ${SIMULATED_READER_NAME}`, { hint: 'insert the simulated card' });
    const card = await this.chip();
    if (!this.present) throw new StationError('CARD_NO_CARD', `the card was taken off ${SIMULATED_READER_NAME}`, { hint: 'put the simulated card back on the reader' });
    const myInsertion = this.insertion;
    const isCurrent = () => this.insertion === myInsertion && this.present;
    const pulled = () => this.remove();
    const conn: RawCardConnection = {
      reader: SIMULATED_READER_NAME,
      atr: card.atr,
      protocol: 'T=1',
      async transmit(apdu: Buffer, timeoutMs: number): Promise<Buffer> {
        const removed = () => new DisconnectedError('CARD_REMOVED', `the card on ${SIMULATED_READER_NAME} was removed during APDU exchange`, { hint: 'put the card back on the reader and read again' });
        if (!isCurrent()) throw removed();
        let timer: NodeJS.Timeout | undefined;
        try {
          return await Promise.race([
            card.process(Buffer.from(apdu)),
            new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new DeviceTimeoutError('CARD_TIMEOUT', `the card on ${SIMULATED_READER_NAME} did not answer within ${timeoutMs} ms`, { hint: 'lift the card and put it back, then read again' })), timeoutMs); }),
          ]);
        } catch (e) {
          if (e instanceof CardRemovedSignal) { pulled(); throw removed(); }
          throw e;
        } finally {
          clearTimeout(timer);
        }
      },
      async disconnect(): Promise<void> { if (isCurrent()) card.reset(); },
    };
    return new ApduChannel(conn, { timeoutMs: this.opts.apduTimeoutMs, ...opts });
  }

  async readDocument(opts: ReadOptions & { reader?: string; channel?: ChannelOptions }): Promise<ChipReadResult> {
    const ch = await this.connect(opts.reader, opts.channel);
    try {
      return await readDocument(ch, { logger: this.opts.logger, ...opts });
    } finally {
      await ch.close();
    }
  }
}
