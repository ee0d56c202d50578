/** The interface both reader modes (real PC/SC and in-process simulated card) expose. */
import type { EventEmitter } from 'node:events';
import type { ApduChannel, ChannelOptions } from './channel';
import type { ChipReadResult, ReadOptions } from './emrtd';

export interface ReaderInfo {
  name: string;
  cardPresent: boolean;
  /** ATR in hex when a card is present. */
  atr?: string;
}

/**
 * Events:
 * - 'reader-added' (name), 'reader-removed' (name)
 * - 'card-inserted' ({ reader, atr }), 'card-removed' ({ reader })
 * - 'service-lost' ({ reason }) — pcscd stopped or vanished; the driver keeps trying
 * - 'service-recovered' ({ downMs }) — a fresh PC/SC context works again
 */
export interface CardReaderDriver extends EventEmitter {
  readonly mode: 'pcsc' | 'simulated';
  /** true while the PC/SC service answers (always true for the simulated reader once open). */
  readonly serviceUp: boolean;
  open(): Promise<void>;
  close(): Promise<void>;
  readers(): ReaderInfo[];
  /** Resolves with the first matching reader holding a card (waits for insertion). */
  waitForCard(opts?: { reader?: string; timeoutMs?: number }): Promise<ReaderInfo>;
  /** Connects (shared mode) to the card in `reader` (exact name, substring, or the configured pattern). */
  connect(reader?: string, opts?: ChannelOptions): Promise<ApduChannel>;
  /** connect + full ICAO 9303 read + disconnect. */
  readDocument(opts: ReadOptions & { reader?: string; channel?: ChannelOptions }): Promise<ChipReadResult>;
}
