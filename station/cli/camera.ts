import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig, type Config } from '../../config';
import { createCamera, isSimFault, processPortrait, SIM_FAULTS, type CameraBackend, type PortraitResult } from '../../drivers/camera';
import { StationError, UsageError } from '../../drivers/common/errors';
import { createLogger, nullLogger } from '../log';
import { action, globalOpts, intOption, printJson, secondsOption } from './util';

/**
 * The configuration, when there is one: an explicit --config / $ENROLL_CONFIG, or
 * the default file if it exists. Technician commands also work on a bare machine.
 */
export function optionalConfig(cmd: Command): Config | null {
  const explicit = globalOpts(cmd).config ?? process.env.ENROLL_CONFIG;
  if (!explicit && !existsSync(DEFAULT_CONFIG_PATH)) return null;
  try {
    return loadConfig(explicit).config;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message, e.hint, e.code);
    throw e;
  }
}

/** `--backend` names real hardware only; the simulator is `--simulated`, as for every other device. */
function parseBackend(v: string | undefined): CameraBackend | undefined {
  if (v === undefined) return undefined;
  if (v === 'rpicam' || v === 'v4l2') return v;
  if (v === 'sim' || v === 'simulated') throw new UsageError(`--backend ${v} is not a backend`, 'use --simulated for the simulated camera (as for fingerprint, card and gpio)');
  throw new UsageError(`--backend must be rpicam or v4l2, got "${v}"`, 'or --simulated for the simulated camera');
}

async function writeAtomic(file: string, data: Buffer): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    throw new StationError('CAM_OUTPUT_WRITE', `cannot write ${file}: ${(e as Error).message}`, { hint: 'Choose a writable path for --out.', cause: e });
  }
}

function human(r: PortraitResult, out: string, cam: { description: string; ms: number; frame: string }): string {
  const m = r.metrics;
  const lines = [
    `camera:   ${cam.description} — ${cam.frame} in ${cam.ms} ms`,
    `portrait: ${out} ${r.width}×${r.height}, ${(r.jpeg.length / 1000).toFixed(1)} kB (JPEG quality ${r.quality})`,
    `verdict:  ${r.verdict === 'accept' ? 'OK' : 'REJECTED'}`,
    ...r.reasons.map((x) => `  - ${x.message}  [${x.code}]`),
    `metrics:  exposure ${m.exposure}${m.faceExposure !== null ? ` (face ${m.faceExposure})` : ''}, contrast ${m.contrast}, ` +
      `sharpness ${m.sharpness} (normalised ${m.sharpnessNormalised}), background σ ${m.backgroundStdDev} (uniformity ${m.backgroundUniformity}), ` +
      `subject ${m.subjectFound ? `found, centre offset ${m.centreOffset}, head top ${m.headTop}` : 'not found'}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** `station camera …` — technician commands for the portrait camera. */
export function register(program: Command): void {
  const camera = program.command('camera').description('portrait camera: test captures with the quality verdict');
  camera
    .command('capture')
    .description('take one photo, run the portrait pipeline, save the ID portrait and print the quality verdict (exit 1 when the photo would be refused)')
    .requiredOption('-o, --out <file>', 'where to write the final portrait JPEG')
    .option('--json', 'print the result as JSON')
    .option('--simulated', 'use the built-in synthetic camera instead of hardware')
    .option('--backend <name>', 'rpicam | v4l2 (default: from the configuration, else rpicam)')
    .option('--device <path>', 'V4L2 device (default: from the configuration, else /dev/video0)')
    .option('--binary <path>', 'camera program to run instead of the default (rpicam-still, ffmpeg, …)')
    .option('--raw <file>', 'also save the unprocessed camera frame here')
    .option('--fault <fault>', `simulated camera only: ${SIM_FAULTS.join(', ')}`)
    .option('--timeout <seconds>', 'capture timeout in seconds, e.g. 8 or 0.5 (default: devices.camera.timeoutMs, else 8)')
    .option('--width <px>', 'portrait width')
    .option('--height <px>', 'portrait height')
    .option('--max-bytes <n>', 'portrait byte budget')
    .action(
      action(async (opts: { out: string; json?: boolean; simulated?: boolean; backend?: string; device?: string; binary?: string; raw?: string; fault?: string; timeout?: string; width?: string; height?: string; maxBytes?: string }, cmd: Command) => {
        const cfg = optionalConfig(cmd)?.devices.camera;
        if (opts.simulated && opts.backend !== undefined) throw new UsageError('--simulated and --backend exclude each other', 'give one: --simulated, or --backend rpicam|v4l2');
        const backend: CameraBackend = opts.simulated ? 'simulated' : parseBackend(opts.backend) ?? (cfg ? (cfg.simulated ? 'simulated' : cfg.backend) : 'rpicam');
        if (opts.fault !== undefined && !isSimFault(opts.fault)) throw new UsageError(`--fault must be one of ${SIM_FAULTS.join(', ')}, got "${opts.fault}"`);
        if (opts.fault !== undefined && backend !== 'simulated') throw new UsageError('--fault only applies to the simulated camera', 'Add --simulated.');
        const timeoutMs = secondsOption('--timeout', opts.timeout, 0.1, 600) ?? cfg?.timeoutMs ?? 8000;
        const width = intOption('--width', opts.width, 16, 4000) ?? cfg?.portraitWidth ?? 480;
        const height = intOption('--height', opts.height, 16, 4000) ?? cfg?.portraitHeight ?? 640;
        const maxBytes = intOption('--max-bytes', opts.maxBytes, 1000) ?? cfg?.maxJpegBytes ?? 120_000;
        const debug = Boolean(globalOpts(cmd).debug);
        const logger = debug ? createLogger({ level: 'debug', destination: process.stderr }) : nullLogger();
        const cam = createCamera({
          backend,
          device: opts.device ?? cfg?.device,
          binary: opts.binary,
          timeoutMs,
          logger,
          sim: { fault: isSimFault(opts.fault) ? opts.fault : null },
        });
        await cam.open();
        let shot;
        try {
          shot = await cam.capture();
        } finally {
          await cam.close();
        }
        if (opts.raw) await writeAtomic(opts.raw, shot.jpeg);
        const r = await processPortrait(shot.jpeg, { ratio: width / height, width, height, maxBytes });
        await writeAtomic(opts.out, r.jpeg);
        const frame = `${r.source.width}×${r.source.height}`;
        if (opts.json) {
          printJson({
            ok: r.verdict === 'accept',
            verdict: r.verdict,
            reasons: r.reasons,
            metrics: r.metrics,
            out: opts.out,
            bytes: r.jpeg.length,
            width: r.width,
            height: r.height,
            quality: r.quality,
            crop: r.crop,
            camera: { backend: cam.backend, description: cam.description, frame, captureMs: shot.durationMs },
          });
        } else {
          process.stdout.write(human(r, opts.out, { description: cam.description, ms: shot.durationMs, frame }));
        }
        return r.verdict === 'accept' ? 0 : 1;
      }),
    );
}
