/** Everything both the station and headquarters need to speak the sealed-record wire format. */
export * from './cbor';
export * from './record';
export * from './suites';
export * from './keys';
export * from './envelope';
export * from './audit';
