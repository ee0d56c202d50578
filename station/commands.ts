/**
 * What the station does when headquarters' signed commands arrive (the uplink has
 * checked the signature, expiry and replay window: sync/commands). Each command
 * leaves an audit entry; a lock or unlock is also an event to headquarters and a
 * status change for the kiosk, told over the bus.
 *
 * rotate-key goes through the one key holder (station/keys.ts): the vault and the
 * uplink read it at every signature, so the new key signs everything from here on.
 */
import type { CommandHandlers, OfflinePolicy } from '../sync/commands';
import type { HqPublicIdentity } from '../sync/wire/keys';
import type { Component } from './lifecycle';
import type { StationBus } from './bus';
import type { StationState } from './state';
import type { Vault } from './vault';
import type { OfficerStore } from './officers/store';
import { saveLearnedHqIdentity, type StationKeyHolder } from './keys';

export interface StationCommandsOptions {
  dataDir: string;
  state: StationState;
  bus: StationBus;
  vault: () => Vault | undefined;
  keys: () => StationKeyHolder | undefined;
  officers: () => OfficerStore | undefined;
}

export class StationCommands implements Component {
  readonly name = 'commands';
  private ready = false;

  constructor(private readonly o: StationCommandsOptions) {}

  /** Needs the vault (audit) and the key holder: registered after the vault. */
  async start(): Promise<void> {
    if (!this.o.vault() || !this.o.keys()) throw new Error('commands: the vault and the station key must be open first');
    this.ready = true;
  }

  async stop(): Promise<void> {
    this.ready = false;
  }

  private vault(): Vault {
    const v = this.o.vault();
    if (!this.ready || !v) throw Object.assign(new Error('the station is not running: command not applied'), { code: 'CMD_FAILED' });
    return v;
  }

  /** The handlers the uplink dispatches verified commands to. */
  handlers(): CommandHandlers {
    const { state, bus, dataDir } = this.o;
    return {
      lock: ({ reason }) => {
        const vault = this.vault();
        state.setLock(reason ?? 'locked by headquarters', 'headquarters');
        vault.audit.append('command_received', { name: 'lock', reason: reason ?? null });
        bus.emit('hq-event', { kind: 'locked', data: { by: 'headquarters', reason: reason ?? null } });
        bus.emit('status-changed', { why: 'lock' });
        return { locked: true };
      },
      unlock: () => {
        const vault = this.vault();
        const was = state.unlock();
        vault.audit.append('command_received', { name: 'unlock' });
        bus.emit('hq-event', { kind: 'unlocked', data: { wasLockedBy: was?.by ?? null } });
        bus.emit('status-changed', { why: 'lock' });
        return { unlocked: true, wasLockedBy: was?.by ?? null };
      },
      setPolicy: (p: Partial<OfflinePolicy>) => {
        const vault = this.vault();
        const now = state.setPolicy(p);
        vault.audit.append('command_received', { name: 'set-policy', maxUnacked: now.maxUnacked, maxDaysSinceReceipt: now.maxDaysSinceReceipt });
        bus.emit('status-changed', { why: 'policy' });
        return { policy: state.policy };
      },
      rotateKey: () => {
        const vault = this.vault();
        // One holder: from here on the vault and the uplink sign with the new key (this command's
        // own answer excepted: it is signed with the key headquarters knows, vouching for the new one).
        const r = this.o.keys()!.rotate();
        vault.audit.append('command_received', { name: 'rotate-key', fingerprint: r.fingerprint, previous: r.previousFingerprint });
        return { publicKey: r.publicKey, publicKeyPem: r.publicKeyPem, fingerprint: r.fingerprint };
      },
      updateHqIdentity: (identity: HqPublicIdentity) => {
        const vault = this.vault();
        // Kept before it is used: a restart seals to the same identity the vault switched to.
        const path = saveLearnedHqIdentity(dataDir, identity);
        vault.setHqIdentity(identity);
        vault.audit.append('command_received', { name: 'update-hq-key', serial: identity.serial });
        return { serial: identity.serial, file: path };
      },
      officerPush: (args) => {
        const vault = this.vault();
        const officers = this.o.officers();
        if (!officers) throw Object.assign(new Error('the officer store is not open: officer not applied'), { code: 'CMD_FAILED' });
        const r = officers.applyHqCommand(args);
        vault.audit.append('command_received', { name: 'officer-push', op: r.op, officerId: r.id });
        return r;
      },
    };
  }
}
