export { Uplink, type UplinkOptions, type UplinkStatus, type UplinkTls } from './uplink';
export { resolveTrust, type HqTrust } from '../wire/trust';
export { buildFrames, decodeFrame, batchHash, type FrameHeader } from '../wire/frame';
export { signMessage, verifySigned, TrustedKeys, keyId } from '../wire/signed';
export { backoffDelay } from './backoff';
