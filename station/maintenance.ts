/**
 * Vault maintenance: releases acknowledged records (secure delete) and purges old
 * metadata — every minute, and a few seconds after receipts stop arriving (the
 * uplink has drained or gone idle), so the upload path never waits for it.
 */
import type { Logger } from 'pino';
import type { Component } from './lifecycle';
import type { StationBus } from './bus';
import type { Vault } from './vault';

export interface MaintenanceOptions {
  vault: () => Vault | undefined;
  bus: StationBus;
  logger: Logger;
  periodMs?: number;
  /** After the last receipt (ms). */
  settleMs?: number;
}

export class VaultMaintenance implements Component {
  readonly name = 'maintenance';
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly o: MaintenanceOptions) {}

  /** One pass now; a failure is logged and the next pass retries. */
  run(): void {
    this.soon = undefined;
    const vault = this.o.vault();
    if (!vault) return;
    try {
      const r = vault.maintenance();
      if (r.released || r.purged) this.o.logger.debug(r, 'vault maintenance');
    } catch (e) {
      this.o.logger.warn({ err: e }, 'vault maintenance failed; will retry');
    }
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => this.run(), this.o.periodMs ?? 60_000);
    this.timer.unref();
    this.unsubscribe = this.o.bus.on('acknowledged', () => {
      if (this.soon) clearTimeout(this.soon);
      this.soon = setTimeout(() => this.run(), this.o.settleMs ?? 3_000);
      this.soon.unref();
    });
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    this.timer = this.soon = undefined;
  }
}
