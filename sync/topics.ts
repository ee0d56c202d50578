/**
 * The versioned MQTT topic namespace between stations and headquarters (the
 * payloads carried on it, with their schemas, are in sync/wire/payloads.ts).
 * Documented for humans in docs/mqtt-api.md.
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
    /** station → hq, binary batch frame (sync/wire/frame.ts). */
    batch: (s: string) => st(s, 'batch'),
    /** station → hq, AuditSlicePayload (the vault's signed audit chain, in order). */
    audit: (s: string) => st(s, 'audit'),
    /** hq → station, SignedMessage<ReceiptBody | AuditAckBody | TimeBody>. */
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

// The payload types and their schemas live with the protocol (sync/wire/payloads.ts); re-exported
// here so code that speaks topics finds them next to the namespace.
export type {
  StationState, StatusPayload, DeviceHealth, HealthPayload, EventKind, EventPayload, IngestFlagPayload, SignedMessage,
  ReceiptStatus, ReceiptBody, AuditEntryPayload, AuditSlicePayload, AuditAckBody, TimeBody, CommandName, CommandBody, CommandResultBody,
} from './wire/payloads';
export { COMMAND_NAMES } from './wire/payloads';
