/**
 * What a module tells the station is checked before it is believed (docs/fingerprint.md
 * "Answers checked"): parameters outside what any module of the family can report are garbage
 * (a bad line, another device); figures another model documents mean the configured model is
 * probably wrong. Both refuse with an error that names the port and the setting to fix.
 */
import { StationError } from '../common/errors';
import { MODEL_TABLE, modelsWithCapacity, type ModelInfo } from './models';
import type { SysParams } from './r30x-codec';

/** Largest library any supported module documents (GT-521F52). */
export const MAX_LIBRARY = 3000;

function others(m: ModelInfo, n: number): string {
  const ms = modelsWithCapacity(m.family, n).map((k) => MODEL_TABLE[k].label);
  return ms.length ? ` (that is what a${/^[AEIOR]/.test(ms[0]!) ? 'n' : ''} ${ms.join(' or ')} holds)` : '';
}

export function implausible(port: string, m: ModelInfo, what: string): StationError {
  return new StationError('FP_IMPLAUSIBLE', `fingerprint scanner on ${port} reports impossible parameters: ${what}`, {
    hint: `no ${m.family === 'r30x' ? 'R30x-family' : 'GT-521'} module answers that: the line is garbling data or another device is on ${port}; check the wiring, the baud rate and devices.fingerprint.model (now ${m.model}), then power-cycle the module`,
    exitCode: 2,
  });
}

export function modelMismatch(port: string, m: ModelInfo, what: string): StationError {
  return new StationError('FP_MODEL_MISMATCH', `fingerprint scanner on ${port} does not look like a ${m.label}: ${what}`, {
    hint: `the configured model is probably wrong: set devices.fingerprint.model to the module's real model (now ${m.model}; \`station fingerprint info --model …\` shows what it reports)`,
    exitCode: 2,
  });
}

/** ReadSysPara results against the family's ranges and the model's documented figures. Throws. */
export function checkR30xParams(m: ModelInfo, sp: SysParams, port: string, address: number): void {
  const bad: string[] = [];
  if (sp.librarySize === 0 || sp.librarySize > MAX_LIBRARY) bad.push(`library size ${sp.librarySize} (modules hold 1..${MAX_LIBRARY})`);
  if (sp.securityLevel < 1 || sp.securityLevel > 5) bad.push(`security level ${sp.securityLevel} (1..5)`);
  if (sp.packetSizeCode > 3) bad.push(`packet size code ${sp.packetSizeCode} (0..3)`);
  if (sp.baudN < 1 || sp.baudN > 12) bad.push(`baud multiplier ${sp.baudN} (1..12 × 9600)`);
  if ((sp.address >>> 0) !== (address >>> 0)) bad.push(`address ${hex8(sp.address)} while it answered as ${hex8(address)}`);
  if (sp.status > 0x0f) bad.push(`status word 0x${sp.status.toString(16)} (only bits 0..3 exist)`);
  if (bad.length) throw implausible(port, m, bad.join('; '));
  if (!m.capacities.includes(sp.librarySize)) throw modelMismatch(port, m, `its library holds ${sp.librarySize} templates${others(m, sp.librarySize)}, a ${m.label} holds ${m.capacities.join(' or ')}`);
  if (!m.bauds.includes(sp.baud)) throw modelMismatch(port, m, `it is set to ${sp.baud} baud, which a ${m.label} does not support (${m.bauds.join(', ')})`);
}

/** A template count must fit the library. Throws. */
export function checkTemplateCount(m: ModelInfo, count: number, capacity: number, port: string): void {
  if (!Number.isInteger(count) || count < 0 || count > capacity) throw implausible(port, m, `${count} templates stored in a library of ${capacity}`);
}

const hex8 = (n: number): string => (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
