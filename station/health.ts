/**
 * The station's health message (HealthPayload, docs/mqtt-api.md): what ops see of
 * a booth — version, backlog, disk, devices, power, clock, lock and policy, and
 * today's enrollments against the quota. The uplink publishes it every period and
 * on request; this component only says what it contains, read at that moment.
 *
 * It also says health is due at once (`health-due` on the bus) when a device chip
 * the officer sees changes colour, rather than at the next period.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config';
import type { HealthPayload } from '../sync/topics';
import type { Vault } from './vault';
import type { StationState } from './state';
import type { ProgressCounters } from './progress';
import type { PowerWatch } from './power';
import type { StationClock } from './clock';
import type { DeviceState } from './workflow/ports';
import type { Component } from './lifecycle';
import type { StationBus } from './bus';
import { readHold, updateVerdict } from './update';
import { VERSION } from './version';

export function cpuTemperature(): number | null {
  try {
    return Number(readFileSync('/sys/class/thermal/thermal_zone0/temp', 'utf8').trim()) / 1000;
  } catch {
    return null;
  }
}

export function powerHealth(p: PowerWatch): NonNullable<HealthPayload['power']> {
  const st = p.state;
  return { level: st.level, capacityPct: st.reading?.capacityPct ?? null, onAc: st.reading?.onAc ?? null, status: st.reading?.status ?? 'unknown', voltageV: st.reading?.voltageV ?? null, ...(st.error ? { error: st.error.slice(0, 200) } : {}) };
}

export interface HealthSources {
  config: Config;
  bootId: string | null;
  startedAt: number;
  state: StationState;
  clock: StationClock;
  vault: () => Vault | undefined;
  progress: () => ProgressCounters | undefined;
  power: () => PowerWatch | null;
  /** What the officer sees of each device (the workflow's view once it runs). */
  devices: () => DeviceState[];
}

export class StationHealth implements Component {
  readonly name = 'health';
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly s: HealthSources, private readonly bus: StationBus) {}

  async start(): Promise<void> {
    // headquarters hears a device chip change now, not at the next health period (the workflow emits only on a change)
    this.unsubscribe = this.bus.on('device-chip-changed', () => this.bus.emit('health-due', { why: 'device' }));
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** The payload now (the uplink adds its session, period and time nonce). */
  payload(): HealthPayload {
    const { config, state, clock } = this.s;
    const vault = this.s.vault();
    if (!vault) throw new Error('health asked before the vault is open');
    const s = vault.stats();
    const disk = vault.checkDisk();
    const today = this.s.progress()?.today(config.station.unit.code);
    const power = this.s.power();
    const hold = readHold(config.dataDir, this.s.bootId).hold;
    const c = clock.status();
    return {
      v: 1,
      at: Date.now(),
      version: VERSION,
      ...(this.s.bootId ? { bootId: this.s.bootId } : {}),
      updateInhibited: !updateVerdict(config.dataDir).ok,
      // an updater's hold in force (station update hold): no new session starts until it is released
      ...(hold ? { updateHold: { by: hold.by, until: hold.until } } : {}),
      ...(power ? { power: powerHealth(power) } : {}),
      uptimeS: Math.round((Date.now() - this.s.startedAt) / 1000),
      diskFreeBytes: disk.freeBytes,
      backlog: { count: s.sealed + s.inFlight + s.held, oldestAgeMs: s.oldestUnackedAgeMs, rejected: s.rejected, held: s.held },
      lastReceiptAt: s.lastReceiptAt,
      devices: this.s.devices().map((d) => ({ name: d.device, state: d.state, ...(d.detail ? { detail: d.detail } : {}) })) as HealthPayload['devices'],
      cpuTempC: cpuTemperature(),
      clockOffsetMs: clock.trusted()?.offsetMs ?? null,
      clock: { unset: c.unset, skewed: c.skewed, uncertaintyMs: c.trusted?.uncertaintyMs ?? null, lastJumpMs: c.lastJump?.deltaMs ?? null },
      enrollments: { today: today ? today.enrollments + today.activations : 0, quota: config.station.unit.dailyQuota || null, unit: config.station.unit.code },
      locked: state.lock !== null,
      lockReason: state.lock?.reason ?? null,
      policy: state.policy,
      intervalS: config.headquarters.healthIntervalSeconds,
    };
  }
}
