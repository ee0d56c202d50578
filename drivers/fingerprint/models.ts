/**
 * Per-model tables: protocol family, image geometry, resolution, capacity,
 * which optional commands exist, baud behaviour and wake-pin polarity.
 * Facts from the vendor manuals (see docs/fingerprint.md); nothing is hard-coded elsewhere.
 */
export type FingerprintModel = 'r307' | 'r503' | 'as608' | 'zfm20' | 'gt521f32' | 'gt521f52';
export type ProtocolFamily = 'r30x' | 'gt521';

export const MODELS: readonly FingerprintModel[] = ['r307', 'r503', 'as608', 'zfm20', 'gt521f32', 'gt521f52'];

export interface ModelInfo {
  model: FingerprintModel;
  family: ProtocolFamily;
  /** Human name shown in messages. */
  label: string;
  width: number;
  height: number;
  /** Sensor resolution, pixels per inch (written into the PNG). */
  ppi: number;
  /** Bits per pixel on the wire: 4 (two pixels per byte) for R30x, 8 for GT-521. */
  wireBits: 4 | 8;
  capacity: number;
  /** Library sizes this model's manuals document (ReadSysPara reports one of them). */
  capacities: readonly number[];
  /** Default line speed after power-up. */
  defaultBaud: number;
  /** Speeds the module accepts. */
  bauds: readonly number[];
  /** R30x: a new baud takes effect only after the next power-up. GT-521: right after the ack. */
  baudApplies: 'power-cycle' | 'after-ack';
  /** Wake/touch output: level while a finger is on the sensor (undefined = no such pin). */
  touchActiveLevel?: 0 | 1;
  /** Optional commands. */
  has: {
    auraLed: boolean; // R503 0x35
    prodInfo: boolean; // R503 0x3C
    handshake: boolean; // R503 0x40
    checkSensor: boolean; // R503 0x36
    getImageEx: boolean; // R503 0x28
    readInfPage: boolean; // AS608 0x16
    cmosLed: boolean; // GT-521 0x12 (LED must be on to capture)
    templates: boolean;
  };
  /** Sends a raw 0x55 byte when it finishes booting. */
  bootByte: boolean;
  /** Template size in bytes (R30x: read until the end packet; informative). */
  templateBytes: number;
}

const R30X_BAUDS = [9600, 19200, 28800, 38400, 48000, 57600, 67200, 76800, 86400, 96000, 105600, 115200];
const R503_BAUDS = [9600, 19200, 38400, 57600, 115200];
const GT_BAUDS = [9600, 19200, 38400, 57600, 115200];

const r30xHas = { auraLed: false, prodInfo: false, handshake: false, checkSensor: false, getImageEx: false, readInfPage: false, cmosLed: false, templates: true };

export const MODEL_TABLE: Readonly<Record<FingerprintModel, ModelInfo>> = {
  r307: {
    model: 'r307', family: 'r30x', label: 'R307', width: 256, height: 288, ppi: 500, wireBits: 4, capacity: 1000, capacities: [1000],
    defaultBaud: 57600, bauds: R30X_BAUDS, baudApplies: 'power-cycle', touchActiveLevel: undefined, has: { ...r30xHas },
    bootByte: false, templateBytes: 512,
  },
  zfm20: {
    model: 'zfm20', family: 'r30x', label: 'ZFM-20', width: 256, height: 288, ppi: 500, wireBits: 4, capacity: 162, capacities: [162, 930],
    defaultBaud: 57600, bauds: R30X_BAUDS, baudApplies: 'power-cycle', touchActiveLevel: undefined, has: { ...r30xHas },
    bootByte: false, templateBytes: 512,
  },
  as608: {
    model: 'as608', family: 'r30x', label: 'AS608', width: 256, height: 288, ppi: 500, wireBits: 4, capacity: 300, capacities: [300],
    defaultBaud: 57600, bauds: R30X_BAUDS, baudApplies: 'power-cycle', touchActiveLevel: 1, has: { ...r30xHas, readInfPage: true },
    bootByte: false, templateBytes: 512,
  },
  r503: {
    model: 'r503', family: 'r30x', label: 'R503', width: 192, height: 192, ppi: 508, wireBits: 4, capacity: 200, capacities: [200],
    defaultBaud: 57600, bauds: R503_BAUDS, baudApplies: 'power-cycle', touchActiveLevel: 0,
    has: { ...r30xHas, auraLed: true, prodInfo: true, handshake: true, checkSensor: true, getImageEx: true },
    bootByte: true, templateBytes: 1536,
  },
  gt521f32: {
    model: 'gt521f32', family: 'gt521', label: 'GT-521F32', width: 202, height: 258, ppi: 450, wireBits: 8, capacity: 200, capacities: [200],
    defaultBaud: 9600, bauds: GT_BAUDS, baudApplies: 'after-ack', touchActiveLevel: 1,
    has: { ...r30xHas, cmosLed: true }, bootByte: false, templateBytes: 498,
  },
  gt521f52: {
    model: 'gt521f52', family: 'gt521', label: 'GT-521F52', width: 202, height: 258, ppi: 450, wireBits: 8, capacity: 3000, capacities: [3000],
    defaultBaud: 9600, bauds: GT_BAUDS, baudApplies: 'after-ack', touchActiveLevel: 1,
    has: { ...r30xHas, cmosLed: true }, bootByte: false, templateBytes: 498,
  },
};

export function isModel(s: string): s is FingerprintModel {
  return (MODELS as readonly string[]).includes(s);
}

export function modelInfo(model: FingerprintModel): ModelInfo {
  return MODEL_TABLE[model];
}

/** Bytes of image data the module sends for one image. */
export function imageWireBytes(m: ModelInfo): number {
  return (m.width * m.height * m.wireBits) / 8;
}

/** Models of a family whose documented library size is `n` (for "the configured model is probably wrong"). */
export function modelsWithCapacity(family: ProtocolFamily, n: number): FingerprintModel[] {
  return MODELS.filter((k) => MODEL_TABLE[k].family === family && MODEL_TABLE[k].capacities.includes(n));
}

/** R30x packet size code (SetSysPara 6 / ReadSysPara) → bytes. */
export const PACKET_SIZES = [32, 64, 128, 256] as const;
