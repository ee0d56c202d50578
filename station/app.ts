/**
 * The composition root: builds every component of a station from its validated
 * configuration and registers them with the lifecycle in start order:
 *
 *   space reserve → state → vault → officers/progress → gpio → fingerprint → camera → card →
 *   commands → health → maintenance → uplink → gpio-check → power → kiosk (workflow) → policy → status LEDs
 *
 * The components do not call one another: they tell what happened on a typed
 * event bus (station/bus.ts) — a vault alert, a lost device, a lock, a receipt — and
 * whoever cares subscribes (the uplink sends `hq-event`s to headquarters, the kiosk
 * follows `status-changed`, maintenance runs after `acknowledged`, the LEDs follow
 * all of it). Command handling (station/commands.ts), the health message
 * (station/health.ts), vault maintenance (station/maintenance.ts) and the LEDs
 * (station/leds.ts) are modules of their own; this file builds and wires them.
 *
 * They stop in reverse: the kiosk stops taking requests, the uplink announces
 * "offline" and waits (bounded) for its publishes, devices close their ports and
 * readers, and the vault closes last. better-sqlite3 is synchronous, so a signal
 * can only be handled between transactions: the current one always finishes.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { createScanner, modelInfo, startSimulator, type FingerprintScanner, type SimulatorHandle, type SimulatorOptions } from '../drivers/fingerprint';
import { createCamera, type Camera } from '../drivers/camera';
import { loadFaceModel } from '../drivers/camera/face';
import { createCardReader, loadCscaStore, SimulatedCardReader, type CardReaderDriver, type CscaStore, type SimulatedOptions } from '../drivers/card';
import type { StationGpio } from '../drivers/gpio';
import { StationError } from '../drivers/common/errors';
import { Vault, type VaultAlert } from './vault';
import { Uplink } from '../sync/uplink';
import { loadHqPublicIdentity } from '../sync/wire/keys';
import { StationKeyHolder, resolveHqIdentityFile } from './keys';
import { OfficerStore, officerStoreOptions } from './officers/store';
import { ProgressCounters } from './progress';
import { RepeatRegister } from './repeats';
import { createWorkflow, type Workflow } from './workflow/machine';
import { startKiosk, type KioskHandle } from './kiosk/server';
import {
  auditOfficerEvents, kioskClock, cameraPort, chipPort, deviceStatus, fingerprintPort, officerCardPort, stationGuard, vaultSealer, vaultUplinkStatus,
} from './workflow/adapters';
import type { DeviceState, DeviceStateName } from './workflow/ports';
import { wireTamper, type TamperWiring } from './tamper';
import { openStationGpio, tamperUnwatchedReason } from './gpio-access';
import { gpioTouchLine, type TouchLine } from './touch';
import { Lifecycle, component, type Component } from './lifecycle';
import { StationState } from './state';
import { PolicyWatch } from './policy';
import { VERSION } from './version';
import { bootId, removeRunState, writeRunState } from './run-state';
import { answerHold, noteVersion, readHold, updateVerdict } from './update';
import { PowerWatch } from './power';
import { StationClock } from './clock';
import { createPower } from '../drivers/power';
import { brokerConnectOptions } from './broker-options';
import type { Problem } from './preflight';
import type { DemoFaults } from './demo-faults';
import { SpaceReserve } from './space-reserve';
import { createStationBus, type DeviceKind, type StationBus } from './bus';
import { StatusLeds } from './leds';
import { StationHealth } from './health';
import { StationCommands } from './commands';
import { VaultMaintenance } from './maintenance';
import { DeviceRegistry } from './device-registry';

/** How long a booth that cannot watch its tamper switch waits for headquarters before it stops. */
const GPIO_ALARM_WAIT_MS = 15_000;

export interface StationOverrides {
  /** Simulator settings for the demo and tests. */
  fingerprintSim?: Partial<SimulatorOptions>;
  cardSim?: Partial<SimulatedOptions>;
  /** Kiosk poll period for live device/uplink state (ms). */
  statusIntervalMs?: number;
  /** How often the space reserve is checked (ms, default 30 s; tests). */
  spaceCheckMs?: number;
  /** Uplink tuning (tests, demo). */
  uplink?: { healthIntervalMs?: number; receiptTimeoutMs?: number; reconnectBaseMs?: number; reconnectMaxMs?: number; protocolVersion?: 4 | 5 };
  /** The demo's trainer panel (`station demo --faults`): the simulated devices register their failures here. */
  faults?: DemoFaults;
}

/** The simulated card's own test CSCA (demo only, said in the log): a real booth has devices.card.cscaDir (preflight). */
function simulatedCsca(card: CardReaderDriver | undefined, log: Logger): CscaStore | undefined {
  if (!(card instanceof SimulatedCardReader)) return undefined;
  const store = card.testCsca();
  if (store && !warnedTestCsca.has(card)) {
    warnedTestCsca.add(card);
    log.warn('demo: chips are checked against the simulated card\'s own test CSCA (devices.card.cscaDir is not set); never on a real booth');
  }
  return store;
}
const warnedTestCsca = new WeakSet<object>();

/** Every part, reachable for the demo, tests and benchmarks once started. */
export interface StationParts {
  config: Config;
  log: Logger;
  state: StationState;
  /** The ballast file given back when the data disk fills (station/space-reserve.ts). */
  spaceReserve?: SpaceReserve;
  /** The station's signing key: loaded once, read by the vault and the uplink at every signature. */
  keys?: StationKeyHolder;
  vault?: Vault;
  officers?: OfficerStore;
  progress?: ProgressCounters;
  repeats?: RepeatRegister;
  gpio?: StationGpio;
  scanner?: FingerprintScanner;
  fingerprintSim?: SimulatorHandle;
  camera?: Camera;
  card?: CardReaderDriver;
  uplink?: Uplink;
  workflow?: Workflow;
  kiosk?: KioskHandle;
}

export interface StationHandle {
  lifecycle: Lifecycle;
  /** How the components tell each other what happened (station/bus.ts). */
  bus: StationBus;
  parts: StationParts;
  kioskUrl(): string;
  currentComponent(): string | undefined;
}


export interface StationStartOptions {
  /**
   * Capture devices that preflight found misconfigured or missing (station/preflight.ts,
   * Problem.device): the station starts without them — degraded — and says why in the
   * kiosk's chip and in health; each capture tries the device again, so one plugged in
   * later works without a restart.
   */
  deviceProblems?: Problem[];
}

export function buildStation(config: Config, rootLog: Logger, overrides: StationOverrides = {}, startOpts: StationStartOptions = {}): StationHandle {
  const log = rootLog.child({ station: config.station.id });
  const lifecycle = new Lifecycle(log.child({ component: 'lifecycle' }));
  const bus = createStationBus(log.child({ component: 'bus' }));
  const state = new StationState(config.dataDir, { maxUnacked: config.policy.maxUnacknowledged, maxDaysSinceReceipt: config.policy.maxDaysSinceReceipt });
  const parts: StationParts = { config, log, state };
  const startedAt = Date.now();
  let current: string | undefined;
  // ── the devices as the root sees them (station/device-registry.ts); a device lost is an alert
  const devices = new DeviceRegistry(bus);
  const setDevice = (kind: DeviceKind, s: DeviceStateName, detail?: string, code?: string): void => devices.set(kind, s, detail, code);
  bus.on('device-changed', (d) => {
    publishRunState();
    if (d.previous !== null && d.previous !== 'error' && d.state === 'error') {
      bus.emit('hq-event', { kind: 'device-lost', data: { device: d.device, detail: d.detail ?? null } });
      parts.vault?.audit.append('alert', { device: d.device, state: d.state, detail: d.detail ?? null });
    }
  });
  // ── time without a real-time clock (#21 item 3): unset and jumps noticed, true time kept from signed receipts
  const clock = new StationClock({ maxSkewMs: config.headquarters.maxClockSkewMinutes * 60_000 });
  if (clock.status().unset) log.warn({ wall: new Date().toISOString() }, 'the system clock is unset (before this release): records keep the local time, and the first receipt from headquarters gives a trusted estimate');
  clock.on('jump', (j: { deltaMs: number }) => {
    log.warn({ deltaMs: j.deltaMs }, `the wall clock jumped by ${Math.round(j.deltaMs / 1000)} s against the monotonic clock`);
    bus.emit('hq-event', { kind: 'clock-jump', data: { deltaMs: j.deltaMs } });
  });
  clock.on('trusted', () => {
    const t = clock.trusted()!;
    log.info({ offsetMs: t.offsetMs, uncertaintyMs: t.uncertaintyMs }, "trusted time from headquarters' signed time (a receipt or the answer to health)");
  });
  const clockTimer = setInterval(() => clock.checkJump(), 10_000);
  clockTimer.unref();
  /** run/state.json for `station selftest` and the updater (station/run-state.ts); written only once the kiosk is up. */
  const BOOT_ID = bootId();
  // ── the updater's hold (station update hold, docs/updates.md): confirmed for its nonce, stale ones removed
  const holdSeen = { key: '' };
  const holdTimer = setInterval(() => {
    try {
      const r = answerHold(config.dataDir, BOOT_ID, holdSeen);
      if (r?.event === 'stale') log.warn({}, `${r.reason}: removed, enrollments are accepted again`);
      else if (r?.event === 'confirmed') {
        log.info({ sessionOpen: r.state.sessionOpen }, `update hold ${r.state.message}`);
        bus.emit('status-changed', { why: 'hold' });
      }
    } catch (e) {
      log.warn({ err: e }, 'could not answer the update hold');
    }
  }, 250);
  holdTimer.unref();
  let runStateOn = false;
  const publishRunState = (): void => {
    if (!runStateOn) return;
    try {
      writeRunState(config.dataDir, { version: VERSION, bootId: BOOT_ID, kioskUrl: parts.kiosk?.url ?? null, devices: honestDeviceStates().map((d) => ({ device: d.device, state: d.state, ...(d.detail ? { detail: d.detail } : {}) })) });
    } catch (e) {
      log.warn({ err: e }, 'could not write run/state.json (station selftest reads it)');
    }
  };
  const deviceStates = (): DeviceState[] => devices.states();
  /** What the officer sees: the root's states with the outcome of the last operation on each device (device-health.ts). */
  const honestDeviceStates = (): DeviceState[] => parts.workflow?.deviceStates() ?? deviceStates();
  const problemOf = (kind: 'fingerprint' | 'camera' | 'card'): Problem | undefined => startOpts.deviceProblems?.find((p) => p.device === kind);
  const problemText = (p: Problem): string => `${p.key}: ${p.message} — ${p.hint}`;
  let scannerOpened = false;
  let cameraOpened = false;
  /** A component, started under its name (the fatal-error log says which one was starting). */
  const add = (c: Component): void => {
    lifecycle.add({ name: c.name, start: async (signal) => { current = c.name; await c.start(signal); current = undefined; }, stop: () => c.stop() });
  };
  const step = (name: string, start: () => Promise<void> | void, stop: () => Promise<void> | void = () => undefined): void => add(component(name, start, stop));

  // ── room to keep running on a full disk (first: everything after it may need to write)
  let reserveTimer: NodeJS.Timeout | undefined;
  step('space-reserve', () => {
    const reserve = new SpaceReserve({ dataDir: config.dataDir, enrollReserveBytes: config.vault.reserveMb * 1024 * 1024, logger: log.child({ component: 'space-reserve' }) });
    parts.spaceReserve = reserve;
    reserve.check();
    reserveTimer = setInterval(() => reserve.check(), overrides.spaceCheckMs ?? 30_000);
    reserveTimer.unref();
  }, () => {
    if (reserveTimer) clearInterval(reserveTimer);
  });

  // ── persistent station state (lock, policy)
  step('state', () => void state.load());

  // ── vault
  step('vault', async () => {
    const keys = new StationKeyHolder(config.dataDir);
    parts.keys = keys;
    parts.vault = await Vault.open({
      dataDir: config.dataDir,
      stationId: config.station.id,
      signingKey: keys,
      hqIdentity: resolveHqIdentityFile(config.headquarters.publicKeyFile, config.dataDir),
      suite: config.vault.suite,
      reserveBytes: config.vault.reserveMb * 1024 * 1024,
      // Release (secure delete) runs in the maintenance pass below, off the upload path.
      retention: { metadataDays: config.vault.retentionDays, releaseOnAck: false },
      logger: log.child({ component: 'vault' }),
      onAlert: (a: VaultAlert) => {
        log.warn({ alert: a.code, recordId: a.recordId }, a.message);
        const kind = a.code === 'VAULT_DISK_LOW' ? 'disk-low' : a.code === 'VAULT_TAMPERED' ? 'security' : a.code === 'VAULT_REJECTED' ? 'record-rejected' : 'hq-key';
        bus.emit('hq-event', { kind, data: { code: a.code, message: a.message, ...(a.recordId ? { recordId: a.recordId } : {}) } });
      },
    });
  }, () => parts.vault?.close());

  // ── officers and progress counters (small SQLite files of their own)
  step('officers', () => {
    parts.officers = new OfficerStore(join(config.dataDir, 'officers.db'), officerStoreOptions(config)).open();
    parts.progress = new ProgressCounters(join(config.dataDir, 'progress.db')).open();
    parts.repeats = new RepeatRegister(join(config.dataDir, 'repeats.db'), config.station.campaign, log.child({ component: 'repeats' })).open();
  }, () => {
    parts.officers?.close();
    parts.progress?.close();
    parts.repeats?.close();
  });

  // ── GPIO (LEDs, buzzer, button, tamper)
  let tamper: TamperWiring | undefined;
  // GPIO that a real booth cannot have (devices.gpio.simulated: false) is fatal, but only after the
  // uplink has started: the station locks itself, audits it, tells headquarters, then refuses to start.
  let gpioFailure: StationError | undefined;
  let fingerTouchLine: number | null = null;
  step('gpio', async () => {
    const gc = config.devices.gpio;
    let g: StationGpio;
    try {
      const opened = await openStationGpio(gc, log);
      g = opened.gpio;
      fingerTouchLine = opened.lines.fingerTouch;
    } catch (e) {
      const err = e instanceof StationError ? e : new StationError('GPIO_OPEN_FAILED', `GPIO could not be opened: ${(e as Error).message}`, { cause: e });
      if (err.exitCode === 2) throw err; // a configuration error: nothing was watched, nothing to report
      gpioFailure = err;
      setDevice('gpio', 'error', err.message);
      log.error({ err, code: err.code }, 'GPIO not available on a booth configured for real GPIO: the station will lock, report and refuse to start');
      if (gc.pins.tamper !== null) {
        const reason = tamperUnwatchedReason(err);
        state.setLock(reason, 'tamper');
        parts.vault?.audit.append('tamper', { event: 'tamper.unwatched', code: err.code, locked: true });
      }
      return;
    }
    parts.gpio = g;
    setDevice('gpio', g.simulated ? 'simulated' : 'ready');
    if (g.simulated) log.warn('devices.gpio.simulated: true — the tamper switch is simulated and watches nothing (demo and benches only)');
    else if (gc.pins.tamper === null) log.warn('devices.gpio.pins.tamper is null: no tamper switch is watched on this booth');
    tamper = wireTamper(g, {
      lock: (reason) => state.setLock(reason, 'tamper'),
      publishEvent: (kind, data) => bus.emit('hq-event', { kind, data }),
      // one audit kind ('tamper', the wire's AUDIT_KINDS); what happened is in the data
      audit: (event, data) => { parts.vault?.audit.append('tamper', { event, ...(data as Record<string, string | number | boolean | null>) }); },
    }, { logger: log.child({ component: 'tamper' }), alarm: () => g.setLed('error', 'blink', 200) });
  }, async () => {
    tamper?.stop();
    await parts.gpio?.close();
  });

  // ── fingerprint scanner (hardware, or the protocol simulator on a pseudo-terminal)
  let touch: TouchLine | undefined;
  step('fingerprint', async () => {
    const fp = config.devices.fingerprint;
    let port = fp.port;
    if (fp.simulated) {
      parts.fingerprintSim = await startSimulator({ model: fp.model, logger: log.child({ component: 'fingerprint-sim' }), ...overrides.fingerprintSim });
      port = parts.fingerprintSim.path;
      const sim = parts.fingerprintSim;
      // the scanner's cable pulled out: the real driver sees its pty go away
      overrides.faults?.register('scanner', (on) => (on ? sim.unplug() : sim.replug()));
    }
    // the module's touch output, where wired: wait on the GPIO edge rather than polling over the UART
    const touchPin = fingerTouchLine;
    if (!fp.simulated && touchPin !== null && !config.devices.gpio.simulated && parts.gpio?.status().backend === 'onoff') {
      const level = modelInfo(fp.model).touchActiveLevel;
      if (level === undefined) log.warn({ model: fp.model }, `devices.gpio.pins.fingerTouch is set but the ${fp.model} has no touch output; polling instead`);
      else touch = gpioTouchLine(touchPin, level, log.child({ component: 'fingerprint-touch' }));
    }
    const scanner = createScanner({ model: fp.model, port, baud: fp.simulated ? undefined : fp.baud, password: fp.password, ...(touch ? { touch } : {}), logger: log.child({ component: 'fingerprint' }) });
    scanner.on('disconnected', () => setDevice('fingerprint', 'error', `scanner on ${port} disconnected`));
    scanner.on('reconnected', () => setDevice('fingerprint', fp.simulated ? 'simulated' : 'ready', `${fp.model} on ${port}`));
    parts.scanner = scanner;
    const problem = problemOf('fingerprint');
    if (problem) {
      // degraded start: the finger step offers its exceptions; a capture tries the scanner again
      setDevice('fingerprint', 'error', problemText(problem), problem.code);
      log.error({ problem: problem.key, hint: problem.hint }, `starting without the fingerprint scanner: ${problem.message}`);
      return;
    }
    try {
      const info = await scanner.open();
      scannerOpened = true;
      if (!fp.simulated && fp.upgradeBaud && fp.upgradeBaud !== fp.baud) {
        const r = await scanner.setBaud(fp.upgradeBaud);
        log.info({ result: r }, 'fingerprint baud change');
      }
      setDevice('fingerprint', fp.simulated ? 'simulated' : 'ready', `${info.model ?? fp.model} on ${port}`);
    } catch (e) {
      // The station still serves: the officer sees the scanner's state and can retry; doctor says why.
      setDevice('fingerprint', 'error', (e as Error).message);
      log.error({ err: e, port }, 'fingerprint scanner did not answer at start');
    }
  }, async () => {
    await parts.scanner?.close();
    touch?.close();
    await parts.fingerprintSim?.stop();
  });

  // ── camera
  step('camera', async () => {
    const c = config.devices.camera;
    const cam = createCamera({ backend: c.simulated ? 'simulated' : c.backend, device: c.device, timeoutMs: c.timeoutMs, logger: log });
    parts.camera = cam;
    // the camera's capture process crashing at every still and live frame
    if (cam.sim) { const sim = cam.sim; overrides.faults?.register('camera', (on) => sim.setFault(on ? 'child-crash' : null)); }
    const problem = problemOf('camera');
    if (problem) {
      // degraded start: the portrait step offers its exceptions; a capture tries the camera again
      setDevice('camera', 'error', problemText(problem), problem.code);
      log.error({ problem: problem.key, hint: problem.hint }, `starting without the camera: ${problem.message}`);
      return;
    }
    try {
      await cam.open();
      cameraOpened = true;
      setDevice('camera', c.simulated ? 'simulated' : 'ready', cam.description);
      // the portrait check's face model (~1 s of CPU, ~50 MB) is loaded when an officer first logs
      // in (kiosk step below), not at start: an idle booth does not hold it, and READY does not share
      // the CPU with it
    } catch (e) {
      setDevice('camera', 'error', (e as Error).message);
      log.error({ err: e }, 'camera not available at start');
    }
  }, () => parts.camera?.close());

  // ── card reader
  let csca: CscaStore | undefined;
  let cardOpening: Promise<void> | undefined;
  step('card', async () => {
    const c = config.devices.card;
    if (problemOf('card')) log.error({ problem: problemOf('card')!.key, hint: problemOf('card')!.hint }, `starting with the card reader degraded: ${problemOf('card')!.message}`);
    else if (c.cscaDir) csca = loadCscaStore(c.cscaDir);
    const reader = c.simulated
      ? createCardReader({ mode: 'simulated', logger: log.child({ component: 'card' }), ...overrides.cardSim })
      : createCardReader({ mode: 'pcsc', ...(c.reader ? { readerPattern: c.reader } : {}), logger: log.child({ component: 'card' }) });
    parts.card = reader;
    // the secure channel breaking: the chip's first protected answer arrives with a bad MAC
    if (reader instanceof SimulatedCardReader) overrides.faults?.register('card', (on) => reader.setChipFaults(on ? { corruptMacAt: 1 } : {}));
    reader.on('service-lost', (e: { reason?: string }) => setDevice('card', 'error', `PC/SC service lost${e?.reason ? `: ${e.reason}` : ''}`));
    reader.on('service-recovered', () => setDevice('card', 'ready', reader.readers().map((r) => r.name).join(', ') || 'no reader attached'));
    // Opened in the background: the kiosk serves meanwhile (the chip step waits for the card anyway),
    // and building the simulated chip (keys, certificates, a face image) takes a few hundred ms.
    setDevice('card', 'busy', 'opening');
    cardOpening = reader.open().then(
      () => {
        const problem = problemOf('card');
        if (!reader.serviceUp) setDevice('card', 'error', 'the PC/SC service (pcscd) is not running; the driver keeps retrying');
        // no CSCA store: chips are read but none can be proven genuine (each is refused, fail closed)
        else if (problem) setDevice('card', 'degraded', problemText(problem), problem.code);
        else setDevice('card', c.simulated ? 'simulated' : 'ready', reader.readers().map((r) => r.name).join(', ') || 'no reader attached');
      },
      (e: unknown) => {
        setDevice('card', 'error', (e as Error).message);
        log.error({ err: e }, 'card reader service not available at start');
      },
    );
  }, async () => {
    await cardOpening;
    await parts.card?.close();
  });

  /** When the uplink was last connected to the broker (this run); null before the first connection. */
  let lastContactAt: number | null = null;
  // ── what headquarters' commands do, what health says, and vault maintenance: components of their own
  const commands = new StationCommands({ dataDir: config.dataDir, state, bus, vault: () => parts.vault, keys: () => parts.keys, officers: () => parts.officers });
  add(commands);
  const health = new StationHealth({
    config, bootId: BOOT_ID, startedAt, state, clock,
    vault: () => parts.vault, progress: () => parts.progress, power: () => power, devices: () => honestDeviceStates(),
  }, bus);
  add(health);
  add(new VaultMaintenance({ vault: () => parts.vault, bus, logger: log.child({ component: 'maintenance' }) }));
  // ── uplink to headquarters
  let unsubscribeUplink = (): void => undefined;
  step('uplink', async () => {
    const hq = config.headquarters;
    let hqIdentity;
    try {
      hqIdentity = loadHqPublicIdentity(resolveHqIdentityFile(hq.publicKeyFile, config.dataDir));
    } catch (e) {
      // Without headquarters' keys nothing can be verified: no uplink (and the guard refuses enrollments, naming the file).
      log.error({ err: e }, 'uplink not started: the headquarters public key file is missing or malformed');
      return;
    }
    const vault = parts.vault!;
    const conn = brokerConnectOptions(config, `station-${config.station.id}`);
    const u = new Uplink({
      brokerUrl: hq.brokerUrl,
      stationId: config.station.id,
      outbox: vault,
      // replay window, session counter, acknowledged audit head: in vault.db, with the records
      state: vault.smallState,
      signingKey: parts.keys!,
      hqIdentity,
      logger: log.child({ component: 'uplink' }),
      health: () => health.payload(),
      commands: commands.handlers(),
      dataDir: config.dataDir,
      tls: { ca: conn.ca as Buffer | undefined, cert: conn.cert as Buffer | undefined, key: conn.key as Buffer | undefined },
      ...(hq.username !== null ? { username: hq.username } : {}),
      ...(hq.password !== null ? { password: hq.password } : {}),
      topicPrefix: hq.topicPrefix,
      maxBatchRecords: hq.maxBatchRecords,
      healthIntervalMs: overrides.uplink?.healthIntervalMs ?? hq.healthIntervalSeconds * 1000,
      ...(overrides.uplink?.receiptTimeoutMs ? { receiptTimeoutMs: overrides.uplink.receiptTimeoutMs } : {}),
      ...(overrides.uplink?.reconnectBaseMs ? { reconnectBaseMs: overrides.uplink.reconnectBaseMs } : {}),
      ...(overrides.uplink?.reconnectMaxMs ? { reconnectMaxMs: overrides.uplink.reconnectMaxMs } : {}),
      ...(overrides.uplink?.protocolVersion ? { protocolVersion: overrides.uplink.protocolVersion } : {}),
      version: VERSION,
      // command expiry by headquarters' signed time when the station has it (#21)
      judgeNow: () => clock.judgeNow(),
    });
    u.on('security', (e: Record<string, unknown>) => log.warn({ security: e }, 'security event on the uplink'));
    // the uplink on the bus: it tells what it hears, and sends what the others want headquarters to hear
    u.on('connected', () => { lastContactAt = Date.now(); bus.emit('uplink-changed', { connected: true }); });
    u.on('disconnected', () => { lastContactAt = Date.now(); bus.emit('uplink-changed', { connected: false }); });
    u.on('acknowledged', (a: { batchId?: unknown }) => bus.emit('acknowledged', typeof a?.batchId === 'string' ? { batchId: a.batchId } : {}));
    const subscriptions = [
      bus.on('hq-event', (e) => {
        // queued while offline; a publish cut by a lost connection is logged, never an unhandled rejection
        u.publishEvent(e.kind, e.data).catch((err: unknown) => log.warn({ err, event: e.kind }, 'could not send an event to headquarters'));
      }),
      bus.on('health-due', () => { void u.publishHealth(); }),
      // a new record goes out now (notify respects back-off and the ingest pause)
      bus.on('record-sealed', () => u.notify()),
    ];
    unsubscribeUplink = () => { for (const off of subscriptions.splice(0)) off(); };
    parts.uplink = u;
    u.on('hq-time', (x: { at: number; sentMono: number; receivedMono: number }) => clock.observe(x.at, x.sentMono, x.receivedMono));
    await u.start(); // returns at once when offline: the station works without the network
    // After an A/B update: headquarters hears of the version change, a rollback loudly (docs/updates.md).
    try {
      const vc = noteVersion(config.dataDir, VERSION);
      if (vc.kind === 'rollback') {
        log.warn({ from: vc.previous, to: vc.current, bootId: BOOT_ID }, `started on version ${vc.current}, older than ${vc.previous ?? '?'} that ran before: the update was rolled back`);
        bus.emit('hq-event', { kind: 'rollback', data: { from: vc.previous, to: vc.current, bootId: BOOT_ID } });
      } else if (vc.kind === 'upgrade') {
        log.info({ from: vc.previous, to: vc.current }, 'started on a new version');
        bus.emit('hq-event', { kind: 'updated', data: { from: vc.previous, to: vc.current, bootId: BOOT_ID } });
      }
    } catch (e) {
      log.warn({ err: e }, 'could not record the running version (rollback detection)');
    }
  }, async () => { unsubscribeUplink(); await parts.uplink?.stop(); });

  // ── a booth whose GPIO failed: tell headquarters (queued until connected), then refuse to start
  step('gpio-check', async () => {
    if (!gpioFailure) return;
    const tamperWired = config.devices.gpio.pins.tamper !== null;
    const u = parts.uplink;
    if (u && tamperWired) {
      // the uplink connects in the background: give it a while, then report (QoS 1, waits for the broker's PUBACK)
      const connected = u.status().connected || await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => { u.off('connected', on); resolve(false); }, GPIO_ALARM_WAIT_MS);
        const on = (): void => { clearTimeout(t); resolve(true); };
        u.once('connected', on);
      });
      if (connected) {
        await u.publishEvent('tamper', { state: 'unwatched', code: gpioFailure.code, message: gpioFailure.message, locked: true })
          .then(() => log.warn('headquarters told: the tamper switch is not watched'))
          .catch((e: unknown) => log.warn({ err: e }, 'could not report the unwatched tamper switch to headquarters'));
      } else {
        log.warn('headquarters not reachable: the lock and the audit entry report the unwatched tamper switch when the station next connects');
      }
    }
    throw gpioFailure;
  });

  // ── workflow and kiosk
  // ── power (#21 item 2): below "low" new sessions are refused (the open one can still be sealed),
  // at "critical" the station stops cleanly — the write in progress finishes, the vault closes.
  let power: PowerWatch | null = null;
  step('power', () => {
    const pc = config.devices.power;
    if (!pc.enabled) return;
    const { monitor } = createPower({ simulated: pc.simulated, root: pc.root, ...(pc.battery ? { battery: pc.battery } : {}) });
    power = new PowerWatch({ monitor, thresholds: { lowPercent: pc.lowPercent, criticalPercent: pc.criticalPercent }, pollMs: pc.pollSeconds * 1000, logger: log.child({ component: 'power' }) });
    power.on('change', (st: PowerWatch['state'], prev: PowerWatch['state']) => {
      const data = { level: st.level, from: prev.level, capacityPct: st.reading?.capacityPct ?? null, onAc: st.reading?.onAc ?? null, error: st.error };
      if (st.level === 'low') log.warn(data, `battery low (${data.capacityPct ?? '?'} %, threshold ${pc.lowPercent} %): new enrollments are refused until the booth is on power`);
      else log.info(data, `power ${st.level}`);
      bus.emit('hq-event', { kind: 'power', data });
      bus.emit('status-changed', { why: 'power' });
    });
    power.on('critical', (st: PowerWatch['state']) => {
      log.error({ capacityPct: st.reading?.capacityPct ?? null, threshold: pc.criticalPercent }, 'battery critical: the station stops cleanly now (vault closed) before the power fails');
      parts.vault?.audit.append('alert', { device: 'power', state: 'critical', detail: `battery at ${st.reading?.capacityPct ?? '?'} %` });
      // the daemon's own SIGTERM path: components stop in reverse, an open seal finishes first
      setImmediate(() => process.kill(process.pid, 'SIGTERM'));
    });
    power.start();
  }, () => { power?.stop(); });

  const workflowSubscriptions: (() => void)[] = [];
  step('kiosk', async () => {
    const vault = parts.vault!;
    const fp = config.devices.fingerprint;
    const cam = config.devices.camera;
    const sealer = vaultSealer(vault, Date.now, () => clock.trusted());
    // A device that did not open at start (missing, broken, or left out by preflight) is tried again at
    // each capture: plugged in later, it works without a restart; still missing, the capture fails with
    // its code, its chip turns red and the step offers its exception path.
    const ensureScanner = async (): Promise<void> => {
      if (scannerOpened) return;
      const info = await parts.scanner!.open();
      scannerOpened = true;
      setDevice('fingerprint', fp.simulated ? 'simulated' : 'ready', `${info.model ?? fp.model}`);
    };
    const ensureCamera = async (): Promise<void> => {
      if (cameraOpened) return;
      await parts.camera!.open();
      cameraOpened = true;
      setDevice('camera', cam.simulated ? 'simulated' : 'ready', parts.camera!.description);
    };
    const fpPort = fingerprintPort(parts.scanner!, { maxAttempts: fp.maxAttempts, threshold: fp.qualityThreshold, logger: log.child({ component: 'capture' }), waitForRemoval: !fp.simulated });
    const camPort = cameraPort(parts.camera!, { width: cam.portraitWidth, height: cam.portraitHeight, maxBytes: cam.maxJpegBytes });
    const wf = createWorkflow({
      consent: config.consent!, // preflight refused to start without it
      officers: parts.officers!,
      fingerprint: { ...fpPort, captureFinger: async (pos, o) => { await ensureScanner(); return fpPort.captureFinger(pos, o); } },
      camera: {
        capturePortrait: async (o) => { await ensureCamera(); return camPort.capturePortrait(o); },
        previewFrame: async (o) => { await ensureCamera(); return camPort.previewFrame!(o); },
      },
      chip: chipPort(parts.card!, { ...(config.devices.card.reader ? { reader: config.devices.card.reader } : {}), csca: () => csca ?? simulatedCsca(parts.card, log), logger: log.child({ component: 'chip' }) }),
      officerCard: officerCardPort(parts.card!),
      sealer: {
        // a new record: the uplink sends it now
        seal: async (draft) => {
          const r = await sealer.seal(draft);
          bus.emit('record-sealed', { recordId: r.recordId });
          return r;
        },
        // after a restart (and a seal that reported an error) the workflow asks the vault whether the record is there
        lookup: (recordId) => sealer.lookup?.(recordId) ?? null,
      },
      guard: ((base) => ({
        async canEnroll() {
          const p = power?.state;
          // the session already open (its marker on disk) may still be confirmed and sealed
          if (p && (p.level === 'low' || p.level === 'critical') && updateVerdict(config.dataDir).ok) {
            return { ok: false as const, code: 'power_low', message: `the battery is at ${p.reading?.capacityPct ?? '?'} % (below ${config.devices.power.lowPercent} %): no new enrollment until the booth is on power`, hint: 'plug the booth into mains or a charged power bank' };
          }
          // an updater's hold (station update hold): no new session; the open one carries on to its seal
          const held = readHold(config.dataDir, BOOT_ID).hold;
          if (held && updateVerdict(config.dataDir).ok) {
            return { ok: false as const, code: 'update_pending', message: `an update is being installed (hold by ${held.by}): no new enrollment until it is finished`, hint: 'wait: the booth restarts by itself when the update is done' };
          }
          return base.canEnroll();
        },
      }))(stationGuard({
        locked: () => (state.lock ? state.lock.reason : null),
        policy: () => state.policy,
        vault,
      })),
      uplink: vaultUplinkStatus(vault, () => parts.uplink?.status().connected ?? false, () => lastContactAt, () => kioskClock(clock.status())),
      devices: deviceStatus(deviceStates),
      progress: parts.progress!,
      repeats: parts.repeats!,
      positions: fp.positions,
      defaultUnit: config.station.unit.code,
      dailyQuota: config.station.unit.dailyQuota,
      idleLogoutMs: config.kiosk.idleLogoutSeconds * 1000,
      loginLifetimeMs: config.kiosk.loginLifetimeMinutes * 60_000,
      markerFile: join(config.dataDir, 'session.marker'),
      logger: log.child({ component: 'workflow' }),
    });
    auditOfficerEvents(wf, vault.audit, log);
    // The face model, on the first successful login: ready long before the portrait step (details and
    // fingers come first); a model that does not load is said then, and again at the portrait step.
    let faceModelAsked = false;
    wf.on('audit', (e: { kind: string; result: string }) => {
      if (faceModelAsked || e.kind !== 'login' || e.result !== 'ok' || !config.devices.camera) return;
      faceModelAsked = true;
      loadFaceModel().catch((err: unknown) => {
        setDevice('camera', 'error', (err as Error).message);
        log.error({ err }, 'face detection model not available');
      });
    });
    // a device whose chip changes colour (its last operation failed, or works again): headquarters
    // hears it now, not at the next health period (the workflow emits only on a change)
    wf.on('device', () => bus.emit('device-chip-changed', {}));
    // the kiosk's status bar follows the bus: the lock, a hold, the battery (its guard first), the
    // uplink's online/offline chip and last contact, and the "waiting to send" counter after a receipt
    workflowSubscriptions.push(
      bus.on('status-changed', (e) => {
        if (e.why === 'power') void wf.refreshGuard().then(() => wf.statusChanged());
        else wf.statusChanged();
      }),
      bus.on('uplink-changed', () => wf.statusChanged()),
      bus.on('acknowledged', () => wf.statusChanged()),
    );
    await wf.start();
    parts.workflow = wf;
    parts.kiosk = await startKiosk({
      port: config.kiosk.port,
      host: '127.0.0.1',
      workflow: wf,
      logger: log.child({ component: 'kiosk' }),
      language: config.kiosk.language,
      ...(overrides.faults ? { faults: overrides.faults } : {}),
      ...(overrides.statusIntervalMs ? { statusIntervalMs: overrides.statusIntervalMs } : {}),
    });
    runStateOn = true;
    publishRunState();
  }, async () => {
    runStateOn = false;
    try { removeRunState(config.dataDir); } catch { /* gone already */ }
    await parts.kiosk?.stop();
    for (const off of workflowSubscriptions.splice(0)) off();
    parts.workflow?.stop();
  });

  // ── status LEDs follow the station's state (station/leds.ts), registered last below
  // ── offline policy: tell headquarters when the station nears (80 %) or reaches its limits, once per crossing
  let policyTimer: NodeJS.Timeout | undefined;
  const policyWatch = new PolicyWatch((r) => {
    const { level, ...data } = r;
    log.warn(data, level === 'reached' ? 'offline policy limit reached: new enrollments are refused' : 'offline policy limit near');
    bus.emit('hq-event', { kind: level === 'reached' ? 'policy-limit-reached' : 'policy-limit-near', data });
  });
  const checkPolicy = (): void => {
    if (parts.vault) policyWatch.check(parts.vault.stats(), state.policy);
  };
  step('policy', () => {
    checkPolicy();
    policyTimer = setInterval(() => checkPolicy(), 60_000);
    policyTimer.unref();
    parts.workflow?.on('sealed', () => checkPolicy());
  }, () => {
    if (policyTimer) clearInterval(policyTimer);
  });

  add(new StatusLeds({
    panel: () => parts.gpio,
    bus,
    view: {
      locked: () => state.lock !== null,
      deviceError: () => honestDeviceStates().some((d) => d.state === 'error'),
      uplink: () => parts.uplink?.status() ?? null,
    },
  }));

  return {
    lifecycle,
    bus,
    parts,
    kioskUrl: () => parts.kiosk?.url ?? 'http://127.0.0.1:(not started)/',
    currentComponent: () => current,
  };
}
