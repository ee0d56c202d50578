/**
 * The fleet as the dashboard shows it, kept live (#20 item 2): a subscription to
 * every station's retained status (with its last will, "lost") and health, each
 * message checked against its schema before it is used, merged with the registry
 * and the last receipts from the store (re-read every few seconds) by the same
 * buildFleet as `hq stations`. A station whose health stops for 3 intervals turns
 * "lost" by a timer, without waiting for a message.
 */
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { makeTopics, type HealthPayload, type StatusPayload } from '../../topics';
import { parsePayload } from '../../wire/payloads';
import { buildFleet, type FleetView } from '../fleet';
import type { HqStoreApi } from '../store-api';
import type { StationRow } from '../store';

export interface LiveFleetOptions {
  brokerUrl: string;
  mqtt?: IClientOptions;
  topicPrefix?: string;
  store: HqStoreApi;
  logger: Logger;
  /** How often the registry and receipts are re-read, and "lost" re-judged (ms). */
  refreshMs?: number;
  now?: () => number;
}

export interface FleetExtras {
  /** Open alarms per station. */
  alarms: Record<string, number>;
  /** Battery as reported in health. */
  power: Record<string, HealthPayload['power'] | null>;
}

export type LiveView = FleetView & FleetExtras & { broker: 'connected' | 'disconnected' };

export class LiveFleet extends EventEmitter {
  private client: MqttClient | null = null;
  private readonly status = new Map<string, StatusPayload>();
  private readonly health = new Map<string, HealthPayload>();
  private registry: StationRow[] = [];
  private receipts = new Map<string, number>();
  private alarmsBy: Record<string, number> = {};
  private timer: NodeJS.Timeout | null = null;
  private lastJson = '';
  private connected = false;
  private pending: NodeJS.Timeout | null = null;
  private lastEmit = 0;
  private readonly t;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly o: LiveFleetOptions) {
    super();
    this.t = makeTopics(o.topicPrefix);
    this.now = o.now ?? Date.now;
    this.log = o.logger.child({ component: 'hq-dashboard-fleet' });
  }

  async start(): Promise<void> {
    await this.refresh();
    const client = mqtt.connect(this.o.brokerUrl, { protocolVersion: 5, clean: true, reconnectPeriod: 2_000, connectTimeout: 10_000, ...(this.o.mqtt ?? {}) });
    this.client = client;
    client.on('connect', () => {
      this.connected = true;
      void client.subscribeAsync({ [this.t.all('status')]: { qos: 1 }, [this.t.all('health')]: { qos: 1 } }).catch((e: Error) => this.log.error({ err: e.message }, 'subscription to the fleet failed'));
      this.changed();
    });
    client.on('close', () => { if (this.connected) { this.connected = false; this.changed(); } });
    let warned = false;
    client.on('connect', () => { warned = false; });
    client.on('error', (e) => { if (!warned) { warned = true; this.log.warn({ err: e.message }, 'broker connection error (reconnecting every 2 s; logged once until it connects)'); } });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    this.timer = setInterval(() => { void this.refresh().then(() => this.changed()); }, this.o.refreshMs ?? 5_000);
    this.timer.unref();
  }

  private onMessage(topic: string, payload: Buffer): void {
    const p = this.t.parse(topic);
    if (!p || (p.leaf !== 'status' && p.leaf !== 'health')) return;
    if (payload.length === 0) { // a retained message cleared: the station is forgotten by the broker
      (p.leaf === 'status' ? this.status : this.health).delete(p.stationId);
      this.changed();
      return;
    }
    const c = parsePayload(p.leaf, payload);
    if (!c.ok) { this.log.warn({ stationId: p.stationId, leaf: p.leaf, err: c.error }, 'fleet message refused (does not match its schema)'); return; }
    if (p.leaf === 'status') this.status.set(p.stationId, c.value as StatusPayload);
    else this.health.set(p.stationId, c.value as HealthPayload);
    this.changed();
  }

  private async refresh(): Promise<void> {
    try {
      const [reg, rec, alarms] = await Promise.all([this.o.store.stations(), this.o.store.lastReceipts(), this.o.store.openAlarms()]);
      this.registry = reg;
      this.receipts = rec;
      const by: Record<string, number> = {};
      for (const a of alarms) if (a.station_id) by[a.station_id] = (by[a.station_id] ?? 0) + 1;
      this.alarmsBy = by;
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'could not read the registry from the store; the fleet view keeps the last one');
    }
  }

  /**
   * Coalesces a burst of messages (a ward coming online) into one update, and sends at most one
   * every 2 s: 2,000 booths' health every minute is 33 messages a second, and the fleet is ~1 MB
   * of JSON for every open page.
   */
  private changed(): void {
    if (this.pending) return;
    const wait = Math.max(200, 2_000 - (Date.now() - this.lastEmit));
    this.pending = setTimeout(() => {
      this.pending = null;
      this.lastEmit = Date.now();
      const v = this.view();
      const j = JSON.stringify({ ...v, at: 0 });
      if (j !== this.lastJson) { this.lastJson = j; this.emit('change', v); }
    }, wait);
  }

  view(): LiveView {
    const f = buildFleet({ lastReceiptAt: (id) => this.receipts.get(id) ?? null, stations: () => this.registry }, this.status, this.health, this.now());
    const power: Record<string, HealthPayload['power'] | null> = {};
    for (const s of f.stations) power[s.stationId] = this.health.get(s.stationId)?.power ?? null;
    return { ...f, alarms: this.alarmsBy, power, broker: this.connected ? 'connected' : 'disconnected' };
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    await this.client?.endAsync(true).catch(() => undefined);
  }
}
