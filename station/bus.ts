/**
 * The station's event bus: how its components tell each other what happened
 * without holding one another (station/app.ts wires them). Every event has a
 * name and a payload type in StationEvents; nothing is keyed by a free string.
 *
 * Delivery is synchronous and in subscription order. A listener that throws is
 * logged and the others still run: one component's fault must not keep an event
 * from the rest (the tamper alarm from headquarters, say).
 */
import type { Logger } from 'pino';
import type { DeviceStateName } from './workflow/ports';

/** The devices the composition root watches (fingerprint, camera, card reader, GPIO). */
export type DeviceKind = 'fingerprint' | 'camera' | 'card' | 'gpio';

/** The kinds of event a station sends on its events topic (docs/mqtt-api.md). */
export type HqEventKind =
  | 'tamper' | 'device-lost' | 'disk-low' | 'security' | 'record-rejected' | 'hq-key'
  | 'policy-limit-near' | 'policy-limit-reached' | 'locked' | 'unlocked'
  | 'clock-jump' | 'power' | 'rollback' | 'updated';

export interface StationEvents {
  /**
   * Something headquarters must hear, as an event on the station's events topic
   * (the uplink queues it while offline; without an uplink it is only logged by
   * whoever emitted it).
   */
  'hq-event': { kind: HqEventKind; data?: Record<string, unknown> };
  /** A device's state as the composition root sees it changed (open, lost, back). */
  'device-changed': { device: DeviceKind; state: DeviceStateName; previous: DeviceStateName | null; detail?: string };
  /** A device chip the officer sees changed colour (its last operation failed, or works again). */
  'device-chip-changed': Record<string, never>;
  /** What the kiosk's status bar shows changed (lock, uplink, backlog, hold): push it now. */
  'status-changed': { why: 'lock' | 'hold' | 'power' | 'policy' };
  /** Health should go out now, not at the next period (the uplink publishes it when connected). */
  'health-due': { why: 'device' };
  /** The workflow sealed a record into the vault: the uplink sends it now (respecting back-off and pauses). */
  'record-sealed': { recordId: string };
  /** The uplink got a receipt from headquarters (records acknowledged). */
  'acknowledged': { batchId?: string };
  /** The uplink connected to or lost the broker. */
  'uplink-changed': { connected: boolean };
}

export type StationEventName = keyof StationEvents;
type Listener<P> = (payload: P) => void;

export class EventBus<M extends { [K in keyof M]: object }> {
  private readonly listeners = new Map<keyof M, Set<Listener<never>>>();

  constructor(private readonly log?: Logger) {}

  /** Subscribes; returns the function that unsubscribes (components call it in stop()). */
  on<K extends keyof M>(name: K, fn: Listener<M[K]>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(fn as Listener<never>);
    return () => { set.delete(fn as Listener<never>); };
  }

  emit<K extends keyof M>(name: K, payload: M[K]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as Listener<M[K]>)(payload);
      } catch (e) {
        this.log?.error({ err: e, event: String(name) }, `a listener of ${String(name)} failed; the others still ran`);
      }
    }
  }

  /** How many listeners an event has (tests). */
  listenerCount(name: keyof M): number {
    return this.listeners.get(name)?.size ?? 0;
  }
}

export type StationBus = EventBus<StationEvents>;

export function createStationBus(log?: Logger): StationBus {
  return new EventBus<StationEvents>(log);
}
