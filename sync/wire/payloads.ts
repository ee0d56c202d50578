/**
 * The JSON payloads carried on the MQTT topics between stations and
 * headquarters (docs/mqtt-api.md §3): their TypeScript types and their JSON
 * Schemas, checked with ajv — the schema library the station's configuration
 * already uses — by whichever end receives them. Both ends import this module;
 * neither parses a payload by hand.
 *
 * Rules that hold for every schema here:
 * - Everything that is signed or that decides what happens to a record (frame
 *   headers, receipts, commands, audit slices) refuses unknown fields: a new
 *   field is a new topic version (`enroll/v2`).
 * - Informational payloads (health, events) may carry fields a newer station
 *   adds, but their size is bounded by the receiver before parsing.
 * - Strings that are ids or hashes carry a pattern or a length bound, so a
 *   hostile sender cannot make a receiver keep megabytes of "id".
 */
import type Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { STATION_ID_PATTERN } from '../../config/domain';
import { AUDIT_KINDS } from './audit';

// ---------------------------------------------------------------- types

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
  /** This boot's id (Linux /proc/sys/kernel/random/boot_id): a new one after every reboot, e.g. into an updated slot. */
  bootId?: string;
  /** An enrollment session is open: an updater asking `station update check` is told to wait. */
  updateInhibited?: boolean;
  /** An updater's hold (`station update hold`): new sessions are refused until it is released, lapses (`until`) or the booth reboots. */
  updateHold?: { by: string; until: number };
  /** The station's clock (station/clock.ts): unset (before the release), |offset| above the skew, the trusted estimate's ± ms, the last jump. */
  clock?: { unset: boolean; skewed: boolean; uncertaintyMs: number | null; lastJumpMs: number | null };
  /** The battery, when devices.power is enabled. */
  power?: { level: 'ok' | 'low' | 'critical' | 'unknown'; capacityPct: number | null; onAc: boolean | null; status: string; voltageV: number | null; error?: string };
  uptimeS: number;
  diskFreeBytes: number | null;
  backlog: { count: number; oldestAgeMs: number | null; rejected?: number; held?: number };
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
  /** A fresh random value (32 hex): headquarters answers with a signed `time` body echoing it, from which the station learns true time. */
  timeNonce?: string;
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

/**
 * What a receipt says about one record (docs/wire-format.md §7). Only `stored`
 * and `duplicate` let the station release it; `held` and `rejected` keep it at
 * the station, with a reason from the lists below.
 */
export const RECEIPT_STATUSES = ['stored', 'duplicate', 'held', 'rejected'] as const;
export type ReceiptStatus = (typeof RECEIPT_STATUSES)[number];

/**
 * `held`: headquarters could not take the record now, for a reason that can
 * clear without anyone touching the station; the station retries by itself.
 */
export const HELD_REASONS = {
  'unknown-station': 'the station is not registered at headquarters (hq register)',
  'unknown-hq-key': 'sealed to a headquarters key generation that headquarters has not loaded',
  'audit-pending': "signed by a retired or revoked key: headquarters needs the station's audit chain up to the record to place it",
  quota: 'the station is over one of headquarters\' per-station limits (bytes in flight, chunk sets); retried later',
  'validator-unavailable': 'the record validator (the process that holds the keys that open records) did not answer; retried once it is back',
} as const;
export type HeldReason = keyof typeof HELD_REASONS;

/**
 * `rejected`: the record as sent can never be accepted; the station keeps it
 * (never deletes it) and raises an alert; once the cause is fixed a
 * technician requeues it (`station outbox requeue [--reason R]`).
 */
export const REJECTED_REASONS = {
  malformed: 'the envelope does not follow the wire format (magic, version, suite, lengths, record id)',
  'wrong-station': 'the envelope names another station than the batch it came in',
  'id-mismatch': 'the record id in the envelope or inside the ciphertext differs from the batch, or the station id inside the ciphertext differs from the header',
  'bad-signature': 'the station signature does not verify with any key registered for the station',
  undecryptable: 'HPKE open failed: the ciphertext or encapsulated key was altered',
  'not-canonical': 'the plaintext is not canonical CBOR',
  'record-invalid': 'the plaintext is canonical CBOR but not a valid record (docs/wire-format.md §3)',
  'record-id-conflict': 'a record with this id is already stored with different bytes',
  'retired-key': 'signed by a station key after that key was retired (key rotation)',
  'revoked-key': 'signed by a revoked station key after the revocation cutoff',
  'too-large': 'larger than headquarters accepts (a record or a batch over the size limits)',
} as const;
export type RejectedReason = keyof typeof REJECTED_REASONS;
export type RefusalReason = HeldReason | RejectedReason;

export function isHeldReason(r: string): r is HeldReason {
  return Object.prototype.hasOwnProperty.call(HELD_REASONS, r);
}
export function isRejectedReason(r: string): r is RejectedReason {
  return Object.prototype.hasOwnProperty.call(REJECTED_REASONS, r);
}

export interface ReceiptResult {
  recordId: string;
  sha256: string;
  status: ReceiptStatus;
  /** Set for `held` and `rejected`: one of HELD_REASONS / REJECTED_REASONS. */
  reason?: RefusalReason;
  /** Human-readable detail for the log and `station status` (no personal data). */
  detail?: string;
  /** `held` only: headquarters' suggestion for when to try again. */
  retryAfterS?: number;
}

/** Body of the signed receipt headquarters publishes after committing a batch. */
export interface ReceiptBody {
  type: 'receipt';
  stationId: string;
  batchId: string;
  /** batchHash over what headquarters received (see frame.ts). */
  batchHash: string;
  results: ReceiptResult[];
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

/**
 * Headquarters' signed answer to a health message carrying `timeNonce` (on the station's receipt
 * topic, signed with the receipt key): its clock when it read the health. The station knows when it
 * sent that health, so true time at the answer's arrival is bounded by the round trip (station/clock.ts).
 */
export interface TimeBody {
  type: 'time';
  stationId: string;
  nonce: string;
  at: number;
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

export type CommandName = 'sync-now' | 'lock' | 'unlock' | 'set-policy' | 'request-health' | 'rotate-key' | 'officer-push' | 'update-hq-key';
export const COMMAND_NAMES: readonly CommandName[] = ['sync-now', 'lock', 'unlock', 'set-policy', 'request-health', 'rotate-key', 'officer-push', 'update-hq-key'];

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

export interface FrameRecord {
  id: string;
  sha256: string;
  len: number;
  sealedAt?: number;
}

/** JSON header of a binary batch frame (frame.ts). */
export interface FrameHeader {
  v: 1;
  kind: 'batch' | 'chunk';
  stationId: string;
  batchId: string;
  /** Send attempt number (1 = first send). Informational. */
  attempt: number;
  sentAt: number;
  batchHash: string;
  records: FrameRecord[];
  chunk?: { index: number; count: number; offset: number };
}

// ---------------------------------------------------------------- limits

/**
 * Largest payload a receiver parses on each JSON topic. Anything larger is
 * refused before JSON.parse sees it (the broker's max_packet_size bounds the
 * binary batch frames).
 */
export const PAYLOAD_LIMITS = {
  status: 1024,
  health: 16 * 1024,
  events: 16 * 1024,
  ingest: 1024,
  /** Receipts name up to a batch's records (200 by default, each ~200 bytes). */
  receipt: 512 * 1024,
  command: 64 * 1024,
  commandResult: 64 * 1024,
  /** A slice of at most 500 audit entries of ≤ ~1 KB each. */
  audit: 1024 * 1024,
} as const;


// ---------------------------------------------------------------- schemas

const stationId = { type: 'string', pattern: STATION_ID_PATTERN };
const hex64 = { type: 'string', pattern: '^[0-9a-f]{64}$' };
const ms = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const count = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const id128 = { type: 'string', minLength: 1, maxLength: 128 };
const id64 = { type: 'string', minLength: 1, maxLength: 64 };
const base64 = { type: 'string', maxLength: 1024, pattern: '^[A-Za-z0-9+/]*={0,2}$' };
const nullable = (s: object) => ({ anyOf: [s, { type: 'null' }] });

export const SCHEMAS = {
  status: {
    type: 'object',
    required: ['v', 'state', 'session', 'at'],
    additionalProperties: false,
    properties: { v: { const: 1 }, state: { enum: ['online', 'offline', 'lost'] }, session: count, at: ms, version: { type: 'string', maxLength: 64 } },
  },
  health: {
    type: 'object',
    required: ['v', 'at'],
    maxProperties: 64,
    properties: {
      v: { const: 1 },
      at: ms,
      session: count,
      version: { type: 'string', maxLength: 64 },
      bootId: { type: 'string', maxLength: 64 },
      updateInhibited: { type: 'boolean' },
      updateHold: { type: 'object', required: ['by', 'until'], properties: { by: { type: 'string', maxLength: 80 }, until: ms } },
      clock: {
        type: 'object',
        required: ['unset', 'skewed'],
        properties: { unset: { type: 'boolean' }, skewed: { type: 'boolean' }, uncertaintyMs: nullable({ type: 'number', minimum: 0 }), lastJumpMs: nullable({ type: 'number' }) },
      },
      power: {
        type: 'object',
        required: ['level'],
        properties: {
          level: { enum: ['ok', 'low', 'critical', 'unknown'] }, capacityPct: nullable({ type: 'number', minimum: 0, maximum: 100 }), onAc: nullable({ type: 'boolean' }),
          status: { type: 'string', maxLength: 32 }, voltageV: nullable({ type: 'number' }), error: { type: 'string', maxLength: 200 },
        },
      },
      uptimeS: { type: 'number', minimum: 0 },
      diskFreeBytes: nullable({ type: 'number', minimum: 0 }),
      backlog: {
        type: 'object',
        required: ['count'],
        properties: { count, oldestAgeMs: nullable({ type: 'number', minimum: 0 }), rejected: count, held: count },
      },
      lastReceiptAt: nullable(ms),
      devices: {
        type: 'array',
        maxItems: 32,
        items: {
          type: 'object',
          required: ['name', 'state'],
          properties: { name: { type: 'string', maxLength: 64 }, state: { type: 'string', maxLength: 32 }, detail: { type: 'string', maxLength: 512 } },
        },
      },
      cpuTempC: nullable({ type: 'number' }),
      clockOffsetMs: nullable({ type: 'number' }),
      enrollments: {
        type: 'object',
        required: ['today'],
        properties: { today: count, quota: nullable(count), unit: nullable({ type: 'string', maxLength: 64 }) },
      },
      locked: { type: 'boolean' },
      lockReason: nullable({ type: 'string', maxLength: 512 }),
      policy: {
        type: 'object',
        properties: { maxUnacked: nullable({ type: 'number', minimum: 0 }), maxDaysSinceReceipt: nullable({ type: 'number', minimum: 0 }) },
      },
      intervalS: { type: 'number', minimum: 1 },
      timeNonce: { type: 'string', pattern: '^[0-9a-f]{32}$' },
    },
  },
  events: {
    type: 'object',
    required: ['v', 'id', 'kind', 'at'],
    additionalProperties: false,
    properties: {
      v: { const: 1 },
      id: id64,
      kind: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' },
      at: ms,
      session: count,
      data: { type: 'object', maxProperties: 64 },
    },
  },
  ingest: {
    type: 'object',
    required: ['v', 'online', 'worker', 'at'],
    additionalProperties: false,
    properties: { v: { const: 1 }, online: { type: 'boolean' }, worker: id128, at: ms },
  },
  signed: {
    type: 'object',
    required: ['v', 'body', 'sig', 'kid'],
    additionalProperties: false,
    properties: {
      v: { const: 1 },
      body: { type: 'string', maxLength: 1024 * 1024 },
      sig: { ...base64, maxLength: 128 },
      kid: { type: 'string', pattern: '^[0-9a-f]{16}$' },
    },
  },
  receipt: {
    type: 'object',
    required: ['type', 'stationId', 'batchId', 'batchHash', 'results', 'at', 'worker'],
    additionalProperties: false,
    properties: {
      type: { const: 'receipt' },
      stationId,
      batchId: id128,
      batchHash: hex64,
      results: {
        type: 'array',
        minItems: 1,
        maxItems: 100_000,
        items: {
          type: 'object',
          required: ['recordId', 'sha256', 'status'],
          additionalProperties: false,
          properties: {
            recordId: id128,
            sha256: hex64,
            status: { enum: [...RECEIPT_STATUSES] },
            reason: { enum: [...Object.keys(HELD_REASONS), ...Object.keys(REJECTED_REASONS)] },
            detail: { type: 'string', maxLength: 500 },
            retryAfterS: { type: 'integer', minimum: 1, maximum: 7 * 86400 },
          },
          // a record kept at the station always says why; one released never carries a reason
          if: { properties: { status: { enum: ['held', 'rejected'] } } },
          then: { required: ['reason'] },
          else: { not: { anyOf: [{ required: ['reason'] }, { required: ['retryAfterS'] }] } },
        },
      },
      at: ms,
      worker: id128,
    },
  },
  time: {
    type: 'object',
    required: ['type', 'stationId', 'nonce', 'at'],
    additionalProperties: false,
    properties: { type: { const: 'time' }, stationId, nonce: { type: 'string', pattern: '^[0-9a-f]{32}$' }, at: ms },
  },
  auditAck: {
    type: 'object',
    required: ['type', 'stationId', 'seq', 'hash', 'at'],
    additionalProperties: false,
    properties: { type: { const: 'audit-ack' }, stationId, seq: count, hash: hex64, error: { type: 'string', maxLength: 1000 }, at: ms },
  },
  audit: {
    type: 'object',
    required: ['v', 'stationId', 'entries'],
    additionalProperties: false,
    properties: {
      v: { const: 1 },
      stationId,
      entries: {
        type: 'array',
        maxItems: 1000,
        items: {
          type: 'object',
          required: ['seq', 'ts', 'kind', 'data', 'prevHash', 'hash'],
          additionalProperties: false,
          properties: {
            seq: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
            ts: ms,
            kind: { enum: [...AUDIT_KINDS] },
            data: {
              type: 'object',
              maxProperties: 64,
              propertyNames: { minLength: 1, maxLength: 64 },
              additionalProperties: { anyOf: [{ type: 'string', maxLength: 512 }, { type: 'integer' }, { type: 'boolean' }, { type: 'null' }] },
            },
            prevHash: hex64,
            hash: hex64,
            sig: { ...base64, maxLength: 128 },
          },
        },
      },
    },
  },
  command: {
    type: 'object',
    required: ['type', 'id', 'target', 'name', 'args', 'issuedAt', 'expiresAt'],
    additionalProperties: false,
    properties: {
      type: { const: 'command' },
      id: id64,
      target: { type: 'string', maxLength: 64 },
      // checked against COMMAND_NAMES after the schema, so an unknown name gets its own code (CMD_UNKNOWN)
      name: { type: 'string', maxLength: 64 },
      args: { type: 'object', maxProperties: 64 },
      issuedAt: ms,
      expiresAt: ms,
    },
  },
  commandResult: {
    type: 'object',
    required: ['type', 'id', 'stationId', 'name', 'status', 'at'],
    additionalProperties: false,
    properties: {
      type: { const: 'command-result' },
      id: id64,
      stationId,
      name: { type: 'string', maxLength: 64 },
      status: { enum: ['ok', 'error', 'refused'] },
      code: { type: 'string', maxLength: 64 },
      message: { type: 'string', maxLength: 2000 },
      data: { type: 'object' },
      at: ms,
    },
  },
  frameHeader: {
    type: 'object',
    required: ['v', 'kind', 'stationId', 'batchId', 'attempt', 'sentAt', 'batchHash', 'records'],
    additionalProperties: false,
    properties: {
      v: { const: 1 },
      kind: { enum: ['batch', 'chunk'] },
      stationId,
      batchId: id128,
      attempt: count,
      sentAt: ms,
      batchHash: hex64,
      records: {
        type: 'array',
        minItems: 1,
        maxItems: 100_000,
        items: {
          type: 'object',
          required: ['id', 'sha256', 'len'],
          additionalProperties: false,
          properties: { id: id128, sha256: hex64, len: count, sealedAt: ms },
        },
      },
      chunk: {
        type: 'object',
        required: ['index', 'count', 'offset'],
        additionalProperties: false,
        properties: { index: count, count: { type: 'integer', minimum: 1, maximum: 1_000_000 }, offset: count },
      },
    },
  },
} as const;

export type PayloadKind = keyof typeof SCHEMAS;

interface PayloadTypes {
  status: StatusPayload;
  health: HealthPayload;
  events: EventPayload;
  ingest: IngestFlagPayload;
  signed: SignedMessage;
  receipt: ReceiptBody;
  auditAck: AuditAckBody;
  time: TimeBody;
  audit: AuditSlicePayload;
  command: CommandBody;
  commandResult: CommandResultBody;
  frameHeader: FrameHeader;
}

// ---------------------------------------------------------------- validation

let ajv: Ajv | null = null;
const compiled = new Map<PayloadKind, ValidateFunction>();

/** Compiled lazily, one schema at a time: a station that never sees an audit slice never compiles its schema. */
function validatorFor(kind: PayloadKind): ValidateFunction {
  let v = compiled.get(kind);
  if (!v) {
    // Ajv itself is loaded with the first schema: a booth starts without it (it needs no payload checked for that)
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily, at the first payload checked
    ajv ??= new (require('ajv') as { default: typeof Ajv }).default({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true });
    v = ajv.compile(SCHEMAS[kind] as object);
    compiled.set(kind, v);
  }
  return v;
}

/** One short sentence for the first schema error: where, and what was expected (never the value itself). */
export function describeSchemaError(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'does not match its schema';
  const at = e.instancePath ? `field ${e.instancePath.slice(1).replace(/\//g, '.')}` : 'the payload';
  switch (e.keyword) {
    case 'required': return `${at} lacks "${(e.params as { missingProperty: string }).missingProperty}"`;
    case 'additionalProperties': return `${at} has an unknown field "${String((e.params as { additionalProperty: string }).additionalProperty).slice(0, 64)}"`;
    case 'enum': return `${at} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((x) => JSON.stringify(x)).join(', ')}`;
    case 'const': return `${at} must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
    default: return `${at} ${e.message ?? 'is invalid'}`;
  }
}

export class PayloadError extends Error {
  constructor(readonly kind: PayloadKind, message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** Validates an already-parsed value against the schema of `kind`. */
export function checkPayload<K extends PayloadKind>(kind: K, value: unknown): Checked<PayloadTypes[K]> {
  const v = validatorFor(kind);
  if (v(value)) return { ok: true, value: value as PayloadTypes[K] };
  return { ok: false, error: describeSchemaError(v.errors) };
}

/**
 * Parses a received JSON payload of `kind`: refuses it when larger than its
 * limit (before parsing), when it is not JSON, or when it does not match the
 * schema. Never throws.
 */
export function parsePayload<K extends PayloadKind>(kind: K, payload: Buffer | string, maxBytes?: number): Checked<PayloadTypes[K]> {
  const limit = maxBytes ?? (PAYLOAD_LIMITS as Record<string, number>)[kind];
  const len = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (limit !== undefined && len > limit) return { ok: false, error: `${len} bytes, more than the ${limit} allowed` };
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  return checkPayload(kind, value);
}

/** Like parsePayload, but throws PayloadError naming the payload kind. */
export function requirePayload<K extends PayloadKind>(kind: K, payload: Buffer | string, maxBytes?: number): PayloadTypes[K] {
  const r = parsePayload(kind, payload, maxBytes);
  if (!r.ok) throw new PayloadError(kind, `${kind} payload refused: ${r.error}`);
  return r.value;
}
