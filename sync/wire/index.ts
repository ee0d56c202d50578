/**
 * The protocol between a booth and headquarters — everything both ends need and
 * neither owns: the sealed-record format, keys, audit chain, batch frames,
 * signed messages, trust and the topic payload schemas.
 */
export * from './cbor';
export * from './record';
export * from './suites';
export * from './keys';
export * from './envelope';
export * from './audit';
export * from './frame';
export * from './signed';
export * from './trust';
export * from './payloads';
