/**
 * Chip ID cards over PC/SC (ICAO 9303 eMRTD with BAC and passive authentication).
 *
 *   const reader = createCardReader({ mode: 'pcsc', readerPattern: 'ACS' });
 *   await reader.open();
 *   const result = await reader.readDocument({ bac: { documentNumber, birthDate, expiryDate }, csca });
 */
import { PcscCardReader, type PcscOptions } from './pcsc';
import type { CardReaderDriver } from './reader';
import { SimulatedCardReader, type SimulatedOptions } from './simulated';

export type CardReaderConfig = ({ mode: 'pcsc' } & PcscOptions) | ({ mode: 'simulated' } & SimulatedOptions);

export function createCardReader(cfg: CardReaderConfig): CardReaderDriver {
  if (cfg.mode === 'pcsc') return new PcscCardReader(cfg);
  return new SimulatedCardReader(cfg);
}

export type { CardReaderDriver, ReaderInfo } from './reader';
export { PcscCardReader, type PcscOptions } from './pcsc';
export { SimulatedCardReader, SIMULATED_READER_NAME, type SimulatedOptions } from './simulated';
export { ApduChannel, type ChannelOptions, type RawCardConnection } from './channel';
export { readDocument, EmrtdReader, ACCESS_DENIED_MESSAGE, type ChipReadResult, type ReadOptions } from './emrtd';
export { bacInputFromMrz, normaliseBacInput, mrzInformation, parseMrz, parseDg1, type BacKeyInput, type MrzFields } from './mrz';
export { passiveAuthenticate, loadCscaStore, cscaStoreFrom, type CscaStore, type PassiveAuthResult, type PassiveAuthVerdict, type PassiveAuthReasonCode } from './passive-auth';
export { extractFace, type FaceImage } from './dg2';
export { CardDataError } from './tlv';
