/**
 * The versioned MQTT topic namespace between stations and headquarters, and the
 * JSON payload types carried on it. Documented for humans in docs/mqtt-api.md.
 *
 * Everything lives under `enroll/v1/`. A breaking payload change gets a new
 * version prefix (`enroll/v2/`) so old and new consumers can run side by side.
 */
export const TOPIC_ROOT = 'enroll';
export const TOPIC_VERSION = 'v1';
export const NS = `${TOPIC_ROOT}/${TOPIC_VERSION}`;

/** Station ids become topic levels: the one station-id rule (config/domain.ts) allows no wildcards, no separators, no `$`. */
import { isValidStationId, STATION_ID_RE } from '../config/domain';

export { isValidStationId, STATION_ID_RE };

function checkPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(prefix)) throw new Error(`invalid topic prefix ${JSON.stringify(prefix)}`);
  return prefix;
}

/** Topic names under a prefix (default `enroll/v1`, configurable as headquarters.topicPrefix). */
export function makeTopics(prefix: string = NS) {
  const p = checkPrefix(prefix);
  const st = (stationId: string, leaf: string): string => {
    if (!isValidStationId(stationId)) throw new Error(`invalid station id for a topic: ${JSON.stringify(stationId)}`);
    return `${p}/st/${stationId}/${leaf}`;
  };
  return {
    prefix: p,
    /** retained; station → all. StatusPayload. */
    status: (s: string) => st(s, 'status'),
    /** retained, periodic; station → hq. HealthPayload. */
    health: (s: string) => st(s, 'health'),
    /** station → hq. EventPayload. */
    events: (s: string) => st(s, 'events'),
    /** station → hq, binary batch frame (sync/uplink/frame.ts). */
    batch: (s: string) => st(s, 'batch'),
    /** station → hq, AuditSlicePayload (the vault's signed audit chain, in order). */
    audit: (s: string) => st(s, 'audit'),
    /** hq → station, SignedMessage<ReceiptBody | AuditAckBody>. */
    receipt: (s: string) => st(s, 'receipt'),
    /** hq (ops) → station, SignedMessage<CommandBody>. */
    cmd: (s: string, name: string) => st(s, `cmd/${name}`),
    cmdWildcard: (s: string) => st(s, 'cmd/+'),
    /** station → hq, SignedMessage<CommandResultBody>. */
    cmdRes: (s: string) => st(s, 'cmd-res'),
    /** retained per ingest worker; hq → stations. IngestFlagPayload. */
    ingest: (workerId: string) => `${p}/hq/ingest/${workerId}`,
    ingestWildcard: () => `${p}/hq/ingest/+`,
    /** Wildcards used by headquarters. */
    all: (leaf: 'status' | 'health' | 'events' | 'batch' | 'cmd-res' | 'audit') => `${p}/st/+/${leaf}`,
    shared: (group: string, topic: string) => `$share/${group}/${topic}`,
    /** Parses `<prefix>/st/<id>/<leaf>[/<name>]`; null for anything else. */
    parse: (topic: string) => parseStationTopic(topic, p),
  };
}

export type Topics = ReturnType<typeof makeTopics>;
export const topics: Topics = makeTopics(NS);

export type StationLeaf = 'status' | 'health' | 'events' | 'batch' | 'receipt' | 'cmd' | 'cmd-res' | 'audit';

export function parseStationTopic(topic: string, prefix: string = NS): { stationId: string; leaf: StationLeaf; name?: string } | null {
  if (!topic.startsWith(`${prefix}/st/`)) return null;
  const parts = topic.slice(prefix.length + 4).split('/');
  const stationId = parts[0]!;
  if (!isValidStationId(stationId)) return null;
  const leaf = parts[1] as StationLeaf;
  if (leaf === 'cmd') {
    if (parts.length !== 3 || !parts[2]) return null;
    return { stationId, leaf, name: parts[2] };
  }
  if (parts.length !== 2) return null;
  if (!['status', 'health', 'events', 'batch', 'receipt', 'cmd-res', 'audit'].includes(leaf)) return null;
  return { stationId, leaf };
}

// ---------------------------------------------------------------- payloads

export type StationState = 'online' | 'offline' | 'lost';

/** `status` (retained). The last will carries state "lost" and the session it belongs to. */
export interface StatusPayload {
  v: 1;
  state: StationState;
  /** Increases on every connection the station makes (persisted): a will from an older session is stale. */
  session: number;
  at: number; // ms since epoch (station clock; for "lost" the time the will was armed)
  version?: string;
}

export interface DeviceHealth {
  name: string; // fingerprint | camera | card | gpio | ...
  state: string; // ok | missing | error | busy | ...
  detail?: string;
}

/** `health` (retained, periodic, and on `request-health`). */
export interface HealthPayload {
  v: 1;
  at: number;
  session?: number;
  version: string;
  uptimeS: number;
  diskFreeBytes: number | null;
  backlog: { count: number; oldestAgeMs: number | null; rejected?: number };
  lastReceiptAt: number | null;
  devices: DeviceHealth[];
  cpuTempC: number | null;
  clockOffsetMs: number | null;
  enrollments: { today: number; quota: number | null; unit: string | null };
  locked?: boolean;
  lockReason?: string | null;
  policy?: { maxUnacked: number | null; maxDaysSinceReceipt: number | null };
  /** Publish interval so headquarters can declare a missed heartbeat "lost". */
  intervalS?: number;
}

export type EventKind = 'tamper' | 'device-lost' | 'disk-low' | 'policy-limit-near' | 'policy-limit-reached' | 'security' | 'locked' | 'unlocked' | string;

/** `events`. */
export interface EventPayload {
  v: 1;
  id: string; // uuid v7
  kind: EventKind;
  at: number;
  session?: number;
  data?: Record<string, unknown>;
}

/** Retained per HQ ingest worker on `enroll/v1/hq/ingest/<worker>`. */
export interface IngestFlagPayload {
  v: 1;
  online: boolean;
  worker: string;
  at: number;
}

/** A JSON body signed with Ed25519: `sig` is over the UTF-8 bytes of `body` exactly as sent. */
export interface SignedMessage {
  v: 1;
  /** JSON text of the body. */
  body: string;
  /** base64 Ed25519 signature over Buffer.from(body, 'utf8'). */
  sig: string;
  /** Key id (hex SHA-256 prefix of the signer's raw public key). */
  kid: string;
}

export type ReceiptStatus = 'stored' | 'duplicate' | 'rejected';

/** Body of the signed receipt headquarters publishes after committing a batch. */
export interface ReceiptBody {
  type: 'receipt';
  stationId: string;
  batchId: string;
  /** batchHash over what headquarters received (see frame.ts). */
  batchHash: string;
  results: { recordId: string; sha256: string; status: ReceiptStatus; reason?: string }[];
  at: number;
  worker: string;
}

/** One audit entry as the vault keeps it (sync/wire/audit.ts AuditEntry). */
export interface AuditEntryPayload {
  seq: number;
  ts: number;
  kind: string;
  data: Record<string, string | number | boolean | null>;
  prevHash: string;
  hash: string;
  sig?: string;
}

/** `audit`: consecutive entries of the station's audit chain. */
export interface AuditSlicePayload {
  v: 1;
  stationId: string;
  entries: AuditEntryPayload[];
}

/** Body of headquarters' signed answer to an audit slice: the head of the chain it holds. */
export interface AuditAckBody {
  type: 'audit-ack';
  stationId: string;
  /** Highest consecutive, verified seq stored at headquarters (0: none). */
  seq: number;
  hash: string;
  /** Set when the slice did not verify (the station keeps resending from seq + 1; ops see an alarm). */
  error?: string;
  at: number;
}

export type CommandName = 'sync-now' | 'lock' | 'unlock' | 'set-policy' | 'request-health' | 'rotate-key' | 'officer-push';
export const COMMAND_NAMES: readonly CommandName[] = ['sync-now', 'lock', 'unlock', 'set-policy', 'request-health', 'rotate-key', 'officer-push'];

export interface CommandBody {
  type: 'command';
  id: string; // uuid v7, unique
  target: string; // station id
  name: CommandName;
  args: Record<string, unknown>;
  issuedAt: number;
  expiresAt: number;
}

export interface CommandResultBody {
  type: 'command-result';
  /** The command id; "unknown" when the command could not even be parsed. */
  id: string;
  stationId: string;
  name: string;
  status: 'ok' | 'error' | 'refused';
  code?: string;
  message?: string;
  data?: Record<string, unknown>;
  at: number;
}
