export { Uplink, type UplinkOptions, type UplinkStatus, type UplinkTls } from './uplink';
export { resolveTrust, type HqTrust } from './trust';
export { buildFrames, decodeFrame, batchHash, type FrameHeader } from './frame';
export { signMessage, verifySigned, TrustedKeys, keyId } from './signed';
export { backoffDelay } from './backoff';
