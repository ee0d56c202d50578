/* The project's one user-visible error type. It lives in config/ because config is the
 * dependency-free base every layer may import (config ← drivers ← station → sync ← config). */
import type { ErrorCode } from './error-codes';
export { ERR, ERROR_CODES, ALL_ERROR_CODES, isErrorCode, errorLayer, type ErrorCode, type ErrorLayer } from './error-codes';

/**
 * One error type for everything a user can see. `code` is stable and grouped by
 * layer (FP_*, CARD_*, CAM_*, GPIO_*, VAULT_*, UPLINK_*, CONFIG_*, USAGE_*);
 * `message` says what failed and where; `hint` says what to do about it.
 */
export class StationError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  /** Process exit code when this error ends a CLI command: 2 = usage/config, 1 = failure. */
  readonly exitCode: 1 | 2;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: { hint?: string; exitCode?: 1 | 2; cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'StationError';
    this.code = code;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? 1;
    this.details = opts.details;
  }

  /** Message plus hint, as shown to a technician or officer. */
  toUserString(): string {
    return this.hint ? `${this.message}\n  → ${this.hint}` : this.message;
  }
}

/** Bad command-line usage or bad configuration: exit code 2. */
export class UsageError extends StationError {
  constructor(message: string, hint?: string, code: ErrorCode = 'USAGE') {
    super(code, message, { hint, exitCode: 2 });
    this.name = 'UsageError';
  }
}

/** The device went away (USB unplugged, pty closed, reader removed). */
export class DisconnectedError extends StationError {
  readonly disconnected = true as const;
  constructor(code: ErrorCode, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(code, message, opts);
    this.name = 'DisconnectedError';
  }
}

/** A device did not answer in time; the message names what was awaited. */
export class DeviceTimeoutError extends StationError {
  constructor(code: ErrorCode, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(code, message, opts);
    this.name = 'DeviceTimeoutError';
  }
}

export function isStationError(e: unknown): e is StationError {
  return e instanceof StationError;
}
