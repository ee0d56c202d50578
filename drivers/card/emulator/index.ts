/** eMRTD card emulator: chip logic, document builder (with test PKI) and the vpcd client. */
export { EmulatedEmrtd, CardRemovedSignal, type CardFaults, type CardOptions } from './card';
export { VpcdCardClient, VPCD_PORTS, type VpcdOptions } from './vpcd';
export {
  buildDocument, createTestPki, buildSod, buildDg1, buildCom, buildTd1, syntheticFaceJpeg, pem, DEFAULT_PERSON,
  type DocumentOptions, type EmrtdContents, type PersonData, type TestPki,
} from './document';
