/**
 * Small state the uplink must keep across restarts and power cuts: the command
 * replay window, the connection session counter, the audit head headquarters
 * acknowledged. On a station it lives in the vault's database (`meta` table, one
 * durable transaction per change), so it shares the vault's crash safety and needs
 * no files of its own; without a store (tests, tools) the uplink keeps it in
 * memory or in the files of older versions, which it imports once.
 */
export interface SmallState {
  /** The stored value, or null. */
  get(key: string): string | null;
  /** Stores durably before returning; throws when it cannot (e.g. a full disk). */
  set(key: string, value: string): void;
}

/** In memory only (tests). */
export class MemorySmallState implements SmallState {
  private readonly m = new Map<string, string>();
  get(key: string): string | null {
    return this.m.get(key) ?? null;
  }
  set(key: string, value: string): void {
    this.m.set(key, value);
  }
}

export const SMALL_STATE_KEYS = {
  session: 'uplink.session',
  auditAcked: 'uplink.audit-acked',
  commandsSeen: 'commands.seen',
} as const;
