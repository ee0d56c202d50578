/**
 * Configuration migrations, applied in memory on load (the file on disk is never
 * rewritten behind the technician's back; `station config show` prints the
 * migrated form so it can be saved).
 *
 * Each step takes the object at version N and returns it at version N+1.
 */
import { CONFIG_VERSION } from './schema';

type Raw = Record<string, unknown>;

const steps: Record<number, (c: Raw) => Raw> = {
  /**
   * 0 → 1: the pilot booths' layout — flat `stationId`, `ward`, `district`,
   * `broker` (URL string) and `fingerprintPort` — moves into the `station`,
   * `headquarters` and `devices` sections.
   */
  0: (c) => {
    const { stationId, ward, district, broker, fingerprintPort, ...rest } = c;
    const out: Raw = { ...rest };
    const station = (typeof out.station === 'object' && out.station !== null ? out.station : {}) as Raw;
    if (stationId !== undefined) station.id = stationId;
    if (ward !== undefined || district !== undefined) {
      station.unit = { ...((station.unit as Raw) ?? {}), ...(ward !== undefined ? { code: ward } : {}), ...(district !== undefined ? { district } : {}) };
    }
    out.station = station;
    if (broker !== undefined) out.headquarters = { ...((out.headquarters as Raw) ?? {}), brokerUrl: broker };
    if (fingerprintPort !== undefined) {
      const devices = ((out.devices as Raw) ?? {}) as Raw;
      devices.fingerprint = { ...((devices.fingerprint as Raw) ?? {}), port: fingerprintPort };
      out.devices = devices;
    }
    out.version = 1;
    return out;
  },
};

export function migrate(data: Raw, source: string): { data: Raw; applied: string[] } {
  const applied: string[] = [];
  let v = data.version === undefined ? 0 : data.version;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    return { data, applied }; // validation reports the bad version with what is allowed
  }
  if (v > CONFIG_VERSION) {
    // leave it: validation says which version this software understands
    return { data, applied };
  }
  while (v < CONFIG_VERSION) {
    const step = steps[v];
    if (!step) throw new Error(`${source}: no migration from config version ${v}`);
    data = step(data);
    applied.push(`${v}→${v + 1}`);
    v += 1;
  }
  return { data, applied };
}
