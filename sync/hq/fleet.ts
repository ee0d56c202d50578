/**
 * The fleet at a glance: retained status + health from the broker, merged with
 * the registry and what headquarters stored (last receipt).
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { StationError } from '../../config/errors';

/** One connection attempt; a failure is a StationError naming the broker and the reason. */
export async function connectOnce(url: string, opts: IClientOptions): Promise<MqttClient> {
  try {
    return await mqtt.connectAsync(url, opts);
  } catch (e) {
    const err = e as { code?: unknown; message?: string };
    const why = typeof err.code === 'number' ? `refused with reason code 0x${err.code.toString(16)} (${err.message ?? ''})` : `${String(err.code ?? '')} ${err.message ?? ''}`.trim();
    throw new StationError('HQ_BROKER_UNREACHABLE', `cannot connect to the MQTT broker ${url}: ${why}`, {
      hint: 'check --broker (or HQ_BROKER_URL), the credentials/certificates, and that the broker is running',
      cause: e,
    });
  }
}
import { makeTopics, type HealthPayload, type StatusPayload } from '../topics';
import type { HqStore } from './store';

export interface FleetStation {
  stationId: string;
  unit: string | null;
  registered: boolean;
  /** online | offline | lost | unknown; "lost" also when an online station missed 3 heartbeats. */
  state: string;
  stateReason?: string;
  session: number | null;
  statusAt: number | null;
  healthAt: number | null;
  version: string | null;
  backlog: number | null;
  oldestBacklogAgeMs: number | null;
  lastReceiptAt: number | null;
  devices: { name: string; state: string }[];
  enrollmentsToday: number | null;
  quota: number | null;
  locked: boolean | null;
  diskFreeBytes: number | null;
}

export interface FleetUnit {
  unit: string;
  stations: number;
  enrollmentsToday: number;
  quota: number | null;
  progress: number | null; // 0..1
}

export interface FleetView {
  at: number;
  stations: FleetStation[];
  units: FleetUnit[];
}

export interface CollectOptions {
  brokerUrl: string;
  mqtt?: IClientOptions;
  topicPrefix?: string;
  /** Stop collecting when no retained message arrived for this long (ms). */
  idleMs?: number;
  maxWaitMs?: number;
}

/** Reads the retained status and health of every station from the broker. */
export async function collectRetained(o: CollectOptions): Promise<{ status: Map<string, StatusPayload>; health: Map<string, HealthPayload> }> {
  const t = makeTopics(o.topicPrefix);
  const status = new Map<string, StatusPayload>();
  const health = new Map<string, HealthPayload>();
  const client = await connectOnce(o.brokerUrl, { protocolVersion: 5, clean: true, reconnectPeriod: 0, connectTimeout: 10_000, ...(o.mqtt ?? {}) });
  try {
    let last = Date.now();
    client.on('message', (topic, payload) => {
      last = Date.now();
      const p = t.parse(topic);
      if (!p || payload.length === 0) return;
      try {
        const v = JSON.parse(payload.toString('utf8')) as unknown;
        if (!v || typeof v !== 'object') return;
        if (p.leaf === 'status') status.set(p.stationId, v as StatusPayload);
        if (p.leaf === 'health') health.set(p.stationId, v as HealthPayload);
      } catch { /* malformed retained message: ignored */ }
    });
    await client.subscribeAsync({ [t.all('status')]: { qos: 1 }, [t.all('health')]: { qos: 1 } });
    last = Date.now();
    const start = Date.now();
    const idle = o.idleMs ?? 400;
    const max = o.maxWaitMs ?? 3_000;
    while (Date.now() - last < idle && Date.now() - start < max) await new Promise((r) => setTimeout(r, 50));
  } finally {
    await client.endAsync().catch(() => undefined);
  }
  return { status, health };
}

export function buildFleet(store: Pick<HqStore, 'lastReceiptAt' | 'stations'> | null, status: Map<string, StatusPayload>, health: Map<string, HealthPayload>, now = Date.now()): FleetView {
  const reg = new Map((store?.stations() ?? []).map((s) => [s.station_id, s]));
  const ids = new Set<string>([...reg.keys(), ...status.keys(), ...health.keys()]);
  const stations: FleetStation[] = [];
  for (const id of [...ids].sort()) {
    const r = reg.get(id);
    const s = status.get(id);
    const h = health.get(id);
    let state = s?.state ?? 'unknown';
    let stateReason: string | undefined;
    const interval = (h?.intervalS ?? 300) * 1000;
    if (state === 'online' && h && typeof h.at === 'number' && now - h.at > 3 * interval) {
      state = 'lost';
      stateReason = `no health for ${Math.round((now - h.at) / 1000)} s (3 heartbeats missed)`;
    }
    const dbReceipt = store ? store.lastReceiptAt(id) : null;
    const lastReceiptAt = [dbReceipt, h?.lastReceiptAt ?? null].filter((x): x is number => typeof x === 'number').reduce<number | null>((a, b) => (a === null ? b : Math.max(a, b)), null);
    stations.push({
      stationId: id,
      unit: r?.unit ?? h?.enrollments?.unit ?? null,
      registered: !!r,
      state,
      ...(stateReason ? { stateReason } : {}),
      session: s?.session ?? null,
      statusAt: s?.at ?? null,
      healthAt: h?.at ?? null,
      version: h?.version ?? s?.version ?? null,
      backlog: h?.backlog?.count ?? null,
      oldestBacklogAgeMs: h?.backlog?.oldestAgeMs ?? null,
      lastReceiptAt,
      devices: Array.isArray(h?.devices) ? h.devices.map((d) => ({ name: String(d.name), state: String(d.state) })) : [],
      enrollmentsToday: h?.enrollments?.today ?? null,
      quota: h?.enrollments?.quota ?? r?.daily_quota ?? null,
      locked: h?.locked ?? null,
      diskFreeBytes: h?.diskFreeBytes ?? null,
    });
  }
  const units = new Map<string, FleetUnit>();
  for (const s of stations) {
    const u = s.unit ?? '(none)';
    const cur = units.get(u) ?? { unit: u, stations: 0, enrollmentsToday: 0, quota: null, progress: null };
    cur.stations += 1;
    cur.enrollmentsToday += s.enrollmentsToday ?? 0;
    if (s.quota !== null) cur.quota = (cur.quota ?? 0) + s.quota;
    cur.progress = cur.quota ? cur.enrollmentsToday / cur.quota : null;
    units.set(u, cur);
  }
  return { at: now, stations, units: [...units.values()].sort((a, b) => a.unit.localeCompare(b.unit)) };
}

function ago(t: number | null, now: number): string {
  if (t === null) return '-';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function formatFleet(v: FleetView): string {
  const rows: string[][] = [['STATION', 'UNIT', 'STATE', 'BACKLOG', 'OLDEST', 'LAST RECEIPT', 'TODAY/QUOTA', 'DEVICES']];
  for (const s of v.stations) {
    const devs = s.devices.length ? s.devices.map((d) => `${d.name}:${d.state}`).join(' ') : '-';
    rows.push([
      s.stationId + (s.registered ? '' : ' (unregistered)'), s.unit ?? '-', s.state + (s.locked ? ' (locked)' : ''),
      s.backlog === null ? '-' : String(s.backlog), s.oldestBacklogAgeMs === null ? '-' : ago(v.at - s.oldestBacklogAgeMs, v.at),
      ago(s.lastReceiptAt, v.at), `${s.enrollmentsToday ?? '-'}/${s.quota ?? '-'}`, devs,
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd());
  lines.push('');
  for (const u of v.units) {
    lines.push(`unit ${u.unit}: ${u.stations} station(s), ${u.enrollmentsToday} enrollment(s) today${u.quota ? ` of ${u.quota} (${Math.round((u.progress ?? 0) * 100)}%)` : ''}`);
  }
  return lines.join('\n');
}
