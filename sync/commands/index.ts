/**
 * Signed operations commands. Headquarters (ops) signs a command with an Ed25519
 * ops key; the station verifies it against the ops keys it trusts and refuses
 * anything unsigned, badly signed, expired, not yet valid, replayed, addressed
 * to another station, or unknown. Every command (even a refused one) is answered
 * on `cmd-res`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { writeFileDurable } from '../../config/durable';
import type { ErrorCode } from '../../config/error-codes';
import { SMALL_STATE_KEYS, type SmallState } from '../small-state';
import { COMMAND_NAMES, type CommandBody, type CommandName, type CommandResultBody, type SignedMessage } from '../topics';
import { signMessage, verifySigned, TrustedKeys } from '../wire/signed';
import { checkPayload } from '../wire/payloads';
import { parseHqPublicIdentity, type HqPublicIdentity } from '../wire/keys';

export type { CommandBody, CommandName, CommandResultBody } from '../topics';
export { COMMAND_NAMES } from '../topics';

/** Offline limits: past them the station refuses new enrollments and says why. null = no limit. */
export interface OfflinePolicy {
  maxUnacked: number | null;
  maxDaysSinceReceipt: number | null;
}

export type CommandReply = Record<string, unknown> | void;

/**
 * What a station implements so commands reach it. `syncNow` and `requestHealth`
 * are handled by the uplink itself; the handlers are called too when present.
 */
export interface CommandHandlers {
  lock(args: { reason?: string }): Promise<CommandReply> | CommandReply;
  unlock(args: Record<string, unknown>): Promise<CommandReply> | CommandReply;
  /** The limits to change (a key not present keeps its current value; null removes the limit). */
  setPolicy(policy: Partial<OfflinePolicy>): Promise<CommandReply> | CommandReply;
  /** Generates a new station signing key; returns at least `{ publicKey }` for re-registration. */
  rotateKey(args: Record<string, unknown>): Promise<CommandReply> | CommandReply;
  syncNow?(): Promise<CommandReply> | CommandReply;
  requestHealth?(): Promise<CommandReply> | CommandReply;
  officerPush?(args: Record<string, unknown>): Promise<CommandReply> | CommandReply;
  /**
   * Headquarters' new public identity (a key rotation), already parsed and checked: keep it
   * durably and seal to it from now on. The uplink switches the keys it trusts itself.
   */
  updateHqIdentity?(identity: HqPublicIdentity): Promise<CommandReply> | CommandReply;
}

/** Longest lifetime a command may claim; keeps the replay store bounded. */
export const MAX_COMMAND_LIFETIME_MS = 7 * 24 * 3600_000;
/** Tolerated clock skew between ops and station for issuedAt. */
export const DEFAULT_SKEW_MS = 5 * 60_000;

export interface SignCommandInput {
  target: string;
  name: CommandName;
  args?: Record<string, unknown>;
  ttlMs?: number;
  now?: number;
  id?: string;
}

export function signCommand(input: SignCommandInput, opsKey: KeyObject): { body: CommandBody; message: SignedMessage } {
  const now = input.now ?? Date.now();
  const ttl = input.ttlMs ?? 24 * 3600_000;
  if (ttl <= 0 || ttl > MAX_COMMAND_LIFETIME_MS) throw new Error(`command lifetime must be between 1 ms and ${MAX_COMMAND_LIFETIME_MS} ms`);
  const body: CommandBody = {
    type: 'command', id: input.id ?? uuidv7(), target: input.target, name: input.name,
    args: input.args ?? {}, issuedAt: now, expiresAt: now + ttl,
  };
  return { body, message: signMessage(body, opsKey) };
}

/** Remembers command ids until they expire (a replay after expiry is refused as expired). */
export interface ReplayStore {
  /** true when the id was new (and is now remembered). */
  remember(id: string, expiresAt: number, now: number): boolean;
}

export class MemoryReplayStore implements ReplayStore {
  protected seen = new Map<string, number>();
  remember(id: string, expiresAt: number, now: number): boolean {
    for (const [k, exp] of this.seen) if (exp < now) this.seen.delete(k);
    if (this.seen.has(id)) return false;
    this.seen.set(id, expiresAt);
    return true;
  }
}

/** Replay store persisted in a small JSON file (written durably: temp, fsync, rename, fsync dir), so a restart or power cut does not reopen replays. */
export class FileReplayStore extends MemoryReplayStore {
  constructor(private readonly path: string) {
    super();
    if (existsSync(path)) {
      try {
        const o = JSON.parse(readFileSync(path, 'utf8')) as Record<string, number>;
        for (const [k, v] of Object.entries(o)) if (typeof v === 'number') this.seen.set(k, v);
      } catch {
        // A corrupt file must not open the door to replays of unexpired commands we cannot list;
        // commands have at most MAX_COMMAND_LIFETIME_MS of life, so refuse nothing and start fresh,
        // but keep the corrupt file aside for inspection.
        renameSync(path, `${path}.corrupt-${Date.now()}`);
      }
    }
  }
  override remember(id: string, expiresAt: number, now: number): boolean {
    const fresh = super.remember(id, expiresAt, now);
    if (fresh) {
      try {
        mkdirSync(dirname(this.path), { recursive: true });
        writeFileDurable(this.path, JSON.stringify(Object.fromEntries(this.seen)));
      } catch (e) {
        this.seen.delete(id); // not remembered durably: not accepted (the caller refuses the command)
        throw e;
      }
    }
    return fresh;
  }
}

/**
 * Replay window kept in a SmallState (the station's vault.db): written durably before
 * the command is accepted. A window left in the JSON file of older versions is imported
 * once and the file removed.
 */
export class StateReplayStore extends MemoryReplayStore {
  constructor(private readonly state: SmallState, private readonly key: string = SMALL_STATE_KEYS.commandsSeen, legacyFile?: string) {
    super();
    const stored = state.get(key);
    const source = stored ?? (legacyFile && existsSync(legacyFile) ? readFileSync(legacyFile, 'utf8') : null);
    if (source !== null) {
      try {
        const o = JSON.parse(source) as Record<string, number>;
        for (const [k, v] of Object.entries(o)) if (typeof v === 'number') this.seen.set(k, v);
      } catch {
        // as FileReplayStore: commands live at most MAX_COMMAND_LIFETIME_MS; start fresh
      }
    }
    if (stored === null && legacyFile && existsSync(legacyFile)) {
      try {
        state.set(key, JSON.stringify(Object.fromEntries(this.seen)));
        unlinkSync(legacyFile);
      } catch {
        // imported in memory; the file stays until the next start can store it
      }
    }
  }
  override remember(id: string, expiresAt: number, now: number): boolean {
    const fresh = super.remember(id, expiresAt, now);
    if (fresh) {
      try {
        this.state.set(this.key, JSON.stringify(Object.fromEntries(this.seen)));
      } catch (e) {
        this.seen.delete(id); // not remembered durably: not accepted (the caller refuses the command)
        throw e;
      }
    }
    return fresh;
  }
}

export type VerifyCommandResult =
  | { ok: true; command: CommandBody; /** What the expiry was judged by (null: not judged, a NO_TIME_SAFE command with no time). */ timeSource?: 'trusted' | 'wall' | null }
  | { ok: false; code: ErrorCode; reason: string; id: string; name: string };

export interface CommandVerifierOptions {
  stationId: string;
  opsKeys: TrustedKeys;
  replay: ReplayStore;
  skewMs?: number;
  now?: () => number;
  /**
   * The time to judge expiry by (station/clock.ts StationClock.judgeNow): headquarters' trusted
   * estimate when there is one, else the wall clock, else null (an unset clock and no signed time
   * yet). Takes precedence over `now`. With null only the commands that can only tighten the
   * station (NO_TIME_SAFE) are accepted; the rest are refused CMD_NO_TRUSTED_TIME.
   */
  judgeNow?: () => { now: number; source: 'trusted' | 'wall' } | null;
}

/**
 * Commands accepted when the station cannot tell the time at all: replaying an old one can only
 * lock the station, make it send, or make it report. Everything else could loosen it.
 */
export const NO_TIME_SAFE: readonly string[] = ['lock', 'sync-now', 'request-health'];

/** Station-side verification of one received command payload. */
export class CommandVerifier {
  constructor(private readonly o: CommandVerifierOptions) {}

  /** The ops keys trusted from now on (headquarters' identity was updated). */
  setOpsKeys(keys: TrustedKeys): void {
    this.o.opsKeys = keys;
  }

  verify(payload: Buffer, topicName?: string): VerifyCommandResult {
    const judged = this.o.judgeNow ? this.o.judgeNow() : { now: (this.o.now ?? Date.now)(), source: 'wall' as const };
    const now = judged?.now ?? NaN;
    const by = judged?.source === 'trusted' ? "by headquarters' signed time" : 'by the local clock (no signed time from headquarters yet)';
    const skew = this.o.skewMs ?? DEFAULT_SKEW_MS;
    const fail = (code: ErrorCode, reason: string, id = 'unknown', name = topicName ?? 'unknown'): VerifyCommandResult => ({ ok: false, code, reason, id, name });
    const v = verifySigned<CommandBody>(payload, this.o.opsKeys);
    if (!v.ok) {
      // Try to echo the id for the answer, without trusting anything else in it.
      let id = 'unknown';
      try {
        const m = JSON.parse(payload.toString('utf8')) as { body?: string };
        const b = typeof m.body === 'string' ? (JSON.parse(m.body) as { id?: unknown }) : undefined;
        if (b && typeof b.id === 'string' && b.id.length <= 64) id = b.id;
      } catch { /* not JSON */ }
      const code = v.reason === 'unsigned' || v.reason === 'missing body/sig/kid' ? 'CMD_UNSIGNED' : 'CMD_BAD_SIGNATURE';
      return fail(code, v.reason, id);
    }
    const loose = v.body as Partial<Record<keyof CommandBody, unknown>>;
    const id = typeof loose.id === 'string' && loose.id.length <= 64 ? loose.id : 'unknown';
    const name = typeof loose.name === 'string' && loose.name.length <= 64 ? loose.name : 'unknown';
    const checked = checkPayload('command', v.body);
    if (!checked.ok) return fail('CMD_MALFORMED', `command body refused: ${checked.error}`, id, name);
    const c = checked.value;
    if (c.target !== this.o.stationId) return fail('CMD_WRONG_TARGET', `command is addressed to ${c.target}, not ${this.o.stationId}`, id, name);
    if (!(COMMAND_NAMES as readonly string[]).includes(c.name)) return fail('CMD_UNKNOWN', `unknown command "${name}"`, id, name);
    if (topicName !== undefined && topicName !== c.name) return fail('CMD_MALFORMED', `command "${name}" arrived on topic for "${topicName}"`, id, name);
    if (c.expiresAt <= c.issuedAt || c.expiresAt - c.issuedAt > MAX_COMMAND_LIFETIME_MS) return fail('CMD_MALFORMED', 'command lifetime out of range', id, name);
    if (judged === null) {
      // Fail closed: with no way to tell whether it expired, only a command that can only tighten runs.
      if (!NO_TIME_SAFE.includes(c.name)) return fail('CMD_NO_TRUSTED_TIME', `command "${c.name}" refused: the station clock is unset and no signed time from headquarters has arrived yet, so its expiry cannot be checked; send it again once the station has reported health`, id, name);
    } else {
      if (now >= c.expiresAt) return fail('CMD_EXPIRED', `command expired at ${new Date(c.expiresAt).toISOString()}, judged ${by}`, id, name);
      if (c.issuedAt > now + skew) return fail('CMD_NOT_YET_VALID', `command issued in the future (${new Date(c.issuedAt).toISOString()}), judged ${by}; check the station clock`, id, name);
    }
    let fresh: boolean;
    try {
      // with no time the id is remembered until its own expiry, measured from its issue
      fresh = this.o.replay.remember(c.id, c.expiresAt, judged === null ? c.issuedAt : now);
    } catch (e) {
      // Fail closed: a command whose id cannot be recorded could be replayed after a restart.
      return fail('CMD_REPLAY_STORE', `command ${c.id} refused: its id could not be recorded (${(e as Error).message})`, id, name);
    }
    if (!fresh) return fail('CMD_REPLAYED', `command ${c.id} was already executed`, id, name);
    return { ok: true, command: c, timeSource: judged?.source ?? null };
  }
}

/**
 * The arguments each command takes (`hq cmd STATION NAME key=value…`). Anything else
 * is refused on both ends: by `hq cmd` before signing (exit 2, naming the allowed
 * keys) and by the station (`CMD_BAD_ARGS`).
 */
export const COMMAND_ARGS: Readonly<Record<CommandName, readonly string[]>> = {
  'sync-now': [],
  lock: ['reason'],
  unlock: [],
  'set-policy': ['maxUnacknowledged', 'maxDaysSinceReceipt'],
  'request-health': [],
  'rotate-key': [],
  'officer-push': ['op', 'id', 'officer'],
  'update-hq-key': ['identity'],
};

/** A command's arguments are refused: the message names the bad key and the allowed ones. */
export class CommandArgsError extends Error {
  readonly code = 'CMD_BAD_ARGS';
  constructor(message: string) {
    super(message);
    this.name = 'CommandArgsError';
  }
}

/** Throws CommandArgsError when `args` has a key the command does not take. */
export function checkCommandArgs(name: CommandName, args: Record<string, unknown>): void {
  const allowed = COMMAND_ARGS[name] ?? [];
  for (const k of Object.keys(args)) {
    if (!allowed.includes(k)) {
      throw new CommandArgsError(`${name} does not take "${k}" — ${allowed.length ? `allowed: ${allowed.join(', ')}` : 'it takes no arguments'}`);
    }
  }
}

/**
 * `set-policy` arguments → the limits to change. A key that is not given keeps the
 * station's current limit; only the word `none` clears one (no limit). Unknown keys,
 * no keys at all and anything but a non-negative number or `none` are refused.
 */
export function parsePolicyArgs(args: Record<string, unknown>): Partial<OfflinePolicy> {
  checkCommandArgs('set-policy', args);
  const keys = Object.keys(args);
  if (keys.length === 0) throw new CommandArgsError('set-policy needs at least one of maxUnacknowledged, maxDaysSinceReceipt (a number, or none to remove the limit)');
  const value = (k: string, integer: boolean): number | null | undefined => {
    const v = args[k];
    if (v === undefined) return undefined;
    if (v === 'none') return null;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
    if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
      throw new CommandArgsError(`${k}=${JSON.stringify(v)}: must be a non-negative ${integer ? 'whole number' : 'number'}, or none to remove the limit`);
    }
    return n;
  };
  const out: Partial<OfflinePolicy> = {};
  const maxUnacked = value('maxUnacknowledged', true);
  const maxDays = value('maxDaysSinceReceipt', false);
  if (maxUnacked !== undefined) out.maxUnacked = maxUnacked;
  if (maxDays !== undefined) out.maxDaysSinceReceipt = maxDays;
  return out;
}

/** The identity an update-hq-key command carries; CMD_BAD_ARGS naming what is wrong with it. */
export function hqIdentityArg(args: Record<string, unknown>): HqPublicIdentity {
  if (args.identity === undefined) throw new CommandArgsError('update-hq-key needs identity (the content of hq-public.json)');
  try {
    return parseHqPublicIdentity(args.identity, 'update-hq-key identity');
  } catch (e) {
    throw new CommandArgsError((e as Error).message);
  }
}

/** Maps a verified command to the station's handlers. Throws on handler failure. */
export async function dispatchCommand(c: CommandBody, h: CommandHandlers): Promise<CommandReply> {
  checkCommandArgs(c.name, c.args);
  switch (c.name) {
    case 'lock': return h.lock({ reason: typeof c.args.reason === 'string' ? c.args.reason : undefined });
    case 'unlock': return h.unlock(c.args);
    case 'set-policy': return h.setPolicy(parsePolicyArgs(c.args));
    case 'rotate-key': return h.rotateKey(c.args);
    case 'sync-now': return h.syncNow?.();
    case 'request-health': return h.requestHealth?.();
    case 'officer-push':
      if (!h.officerPush) throw Object.assign(new Error('this station does not accept officer-push'), { code: 'CMD_UNSUPPORTED' });
      return h.officerPush(c.args);
    case 'update-hq-key': {
      if (!h.updateHqIdentity) throw Object.assign(new Error('this station does not accept update-hq-key'), { code: 'CMD_UNSUPPORTED' });
      return h.updateHqIdentity(hqIdentityArg(c.args));
    }
  }
}

export function resultBody(stationId: string, id: string, name: string, status: CommandResultBody['status'], extra: Partial<CommandResultBody> = {}): CommandResultBody {
  return { type: 'command-result', id, stationId, name, status, at: Date.now(), ...extra };
}
