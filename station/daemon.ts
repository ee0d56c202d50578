/**
 * The daemon's process-level life: preflight, start in order, sd_notify, graceful
 * stop on SIGTERM/SIGINT, and a logged, non-zero exit on a fatal error so systemd
 * restarts the station.
 */
import { brokerUsesTls, type Config } from '../config';
import { createLogger, type Logger } from './log';
import { SystemdNotifier } from './notify';
import { checkConsent, checkDataDir, checkDevicePaths, problemsError } from './preflight';
import { buildStation, type StationOverrides } from './app';
import { disableCoreDumps } from './core-dumps';

export interface DaemonOptions {
  config: Config;
  debug?: boolean;
  logger?: Logger;
  overrides?: StationOverrides;
  /** Called once the station is serving (after READY=1). */
  onReady?: (info: { kioskUrl: string }) => void | Promise<void>;
  /** Resolves when the caller wants the daemon to stop (in addition to signals). */
  until?: Promise<void>;
}

export async function runDaemon(opts: DaemonOptions): Promise<number> {
  const { config } = opts;
  const log = opts.logger ?? createLogger({ level: opts.debug ? 'debug' : config.log.level });
  const t0 = process.hrtime.bigint();

  // before anything personal can be in memory
  const core = disableCoreDumps();
  if (core.changed) log.info({ before: String(core.before.soft), after: core.after.soft }, 'core dumps disabled for the daemon (RLIMIT_CORE 0)');

  // Only what the station cannot work without stops the start: the data directory (vault, keys) and the
  // uplink's files, and the consent text (no consent, no capture). A capture device that is missing or misconfigured leaves the station degraded: the
  // kiosk comes up, that step offers its exception path, its chip and health say why (station/app.ts).
  const devicePaths = checkDevicePaths(config);
  const required = [...checkDataDir(config.dataDir), ...checkConsent(config), ...devicePaths.filter((p) => !p.device)];
  // refused: list the devices' problems too, so that one round of fixes is enough
  if (required.length) throw problemsError([...required, ...devicePaths.filter((p) => p.device)]);
  const deviceProblems = devicePaths.filter((p) => p.device);
  for (const p of deviceProblems) log.warn({ problem: p.key, device: p.device, hint: p.hint }, `starting degraded: ${p.message}`);
  if (config.headquarters.allowInsecureBroker) {
    // every start, so that a bench setting left on a booth shows in its journal
    log.warn({ brokerUrl: config.headquarters.brokerUrl, tls: brokerUsesTls(config.headquarters.brokerUrl) },
      'headquarters.allowInsecureBroker is true: the broker may be reached without TLS (broker credentials, commands and health in clear; records stay sealed and signed) — for lab benches and the demo only');
  }

  const notifier = new SystemdNotifier(log.child({ component: 'systemd' }));
  const station = buildStation(config, log, opts.overrides, { deviceProblems });

  let stopRequested!: (reason: string) => void;
  const stopped = new Promise<string>((r) => (stopRequested = r));
  const onSignal = (sig: NodeJS.Signals) => {
    log.info({ signal: sig }, 'stopping (signal received)');
    stopRequested(sig);
  };
  let fatal: unknown;
  const onFatal = (err: unknown, origin: string) => {
    log.fatal({ err, origin, component: station.currentComponent() }, 'fatal error: the station stops and systemd restarts it');
    fatal = err;
    stopRequested('fatal');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('uncaughtException', (e) => onFatal(e, 'uncaughtException'));
  process.on('unhandledRejection', (e) => onFatal(e, 'unhandledRejection'));
  opts.until?.then(() => stopRequested('requested'));

  try {
    await station.lifecycle.start();
  } catch (e) {
    await notifier.stopping();
    throw e;
  }
  const readyMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const degraded = [...new Set(deviceProblems.map((p) => p.device!))];
  await notifier.ready(`serving kiosk on ${station.kioskUrl()}${degraded.length ? ` (degraded: no ${degraded.join(', ')})` : ''}`);
  log.info({ station: config.station.id, unit: config.station.unit.code, kiosk: station.kioskUrl(), readyMs: Math.round(readyMs), ...(degraded.length ? { degraded } : {}) },
    degraded.length ? `station ready, degraded (${degraded.join(', ')}: see the warnings above)` : 'station ready');
  // a line for benchmarks and humans alike
  if (process.env.STATION_PRINT_READY === '1') process.stdout.write(`READY ${readyMs.toFixed(1)}ms\n`);
  await opts.onReady?.({ kioskUrl: station.kioskUrl() });

  const reason = await stopped;
  await notifier.stopping();
  await station.lifecycle.stop();
  log.info({ reason }, 'station stopped');
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return fatal !== undefined ? 1 : 0;
}
