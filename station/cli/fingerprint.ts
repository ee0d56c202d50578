/**
 * `station fingerprint …` — the technician's fingerprint scanner tool. The same commands work
 * against hardware and against the protocol simulator (`station fingerprint simulate`).
 */
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { UsageError } from '../../drivers/common/errors';
import { FINGER_NAMES } from '../../config/domain';
import {
  MODELS, captureFinger, createScanner, isModel, modelInfo, startSimulator,
  type FingerprintModel, type FingerprintScanner, type SimulatorHandle,
} from '../../drivers/fingerprint';
import { FINGER_IMAGE_KINDS, type FingerImageKind } from '../../drivers/fingerprint/sim';
import { createLogger } from '../log';
import { action, globalOpts, intOption, printJson, secondsOption } from './util';

interface ConnOpts {
  port?: string;
  model?: string;
  baud?: string;
  json?: boolean;
  simulated?: boolean;
  image?: string;
}

function parseModel(v: string | undefined): FingerprintModel {
  if (!v) throw new UsageError('--model is required', `one of: ${MODELS.join(', ')}`);
  const m = v.toLowerCase().replace(/[-_ ]/g, '');
  if (!isModel(m)) throw new UsageError(`unknown fingerprint model "${v}"`, `one of: ${MODELS.join(', ')}`);
  return m;
}

function parseImage(v: string | undefined): FingerImageKind {
  const k = (v ?? 'good') as FingerImageKind;
  if (!FINGER_IMAGE_KINDS.includes(k)) throw new UsageError(`unknown simulated image "${v}"`, `one of: ${FINGER_IMAGE_KINDS.join(', ')}`);
  return k;
}

/** Open the scanner named on the command line (or an in-process simulator with --simulated). */
async function connect(opts: ConnOpts, cmd: Command): Promise<{ scanner: FingerprintScanner; sim?: SimulatorHandle; done: () => Promise<void> }> {
  const model = parseModel(opts.model);
  const m = modelInfo(model);
  const baud = intOption('--baud', opts.baud, 1200, 921600);
  if (baud !== undefined && !m.bauds.includes(baud)) throw new UsageError(`${m.label} does not support ${baud} baud`, `supported: ${m.bauds.join(', ')}`);
  let sim: SimulatorHandle | undefined;
  let port = opts.port;
  if (opts.simulated) {
    if (port) throw new UsageError('--simulated and --port cannot be combined');
    sim = await startSimulator({ model, image: parseImage(opts.image) });
    port = sim.path;
  }
  if (!port) throw new UsageError('--port is required (e.g. /dev/serial0, /dev/serial/by-id/…, or the path printed by `station fingerprint simulate`)');
  const debug = Boolean(globalOpts(cmd).debug);
  const logger = createLogger({ level: debug ? 'debug' : 'warn', destination: process.stderr, name: 'fingerprint' });
  const scanner = createScanner({ model, port, baud, logger });
  scanner.on('warning', (w: string) => process.stderr.write(`warning: ${w}\n`));
  return {
    scanner,
    sim,
    done: async () => {
      await scanner.close().catch(() => undefined);
      await sim?.stop();
    },
  };
}

function connOptions(c: Command): Command {
  return c
    .option('--port <path>', 'serial device of the scanner')
    .option('--model <model>', `scanner model: ${MODELS.join(' | ')}`)
    .option('--baud <n>', 'line speed (default: the model\'s factory speed; other speeds are probed if it does not answer)')
    .option('--simulated', 'use an in-process protocol simulator instead of --port')
    .option('--image <kind>', `simulated finger with --simulated: ${FINGER_IMAGE_KINDS.join(' | ')}`)
    .option('--json', 'machine-readable output');
}

export function register(program: Command): void {
  const fp = program.command('fingerprint').description('fingerprint scanner: module info, test capture, protocol simulator');

  connOptions(fp.command('info').description('open the scanner and show what it reports (model, geometry, speed, capacity, templates)'))
    .action(action(async (opts: ConnOpts, cmd: Command) => {
      const c = await connect(opts, cmd);
      try {
        const info = await c.scanner.open();
        if (opts.json) return printJson(info);
        const lines = [
          `${info.label} on ${info.port}`,
          `  protocol:      ${info.family === 'r30x' ? 'R30x (EF 01 frames)' : 'GT-521 (55 AA packets)'}`,
          `  baud:          ${info.baud}`,
          `  image:         ${info.width}×${info.height} at ${info.ppi} ppi`,
          `  templates:     ${info.templateCount ?? '?'} of ${info.capacity}`,
        ];
        if (info.packetSize) lines.push(`  packet size:   ${info.packetSize} bytes`);
        if (info.securityLevel) lines.push(`  security:      ${info.securityLevel}`);
        if (info.address !== undefined) lines.push(`  address:       ${info.address.toString(16).toUpperCase().padStart(8, '0')}`);
        if (info.productModel) lines.push(`  product:       ${info.productModel}`);
        if (info.firmware) lines.push(`  firmware:      ${info.firmware}`);
        if (info.serial) lines.push(`  serial:        ${info.serial}`);
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        await c.done();
      }
    }));

  connOptions(fp.command('capture').description('wait for a finger, capture and score it; --out writes the 8-bit grey PNG'))
    .option('--out <file.png>', 'write the image here (PNG, 8-bit grey, sensor ppi)')
    .option('--wait <seconds>', 'how long to wait for a finger', '20')
    .option('--position <n>', 'run the enrollment capture flow for this finger position (1 right thumb … 10 left little)')
    .option('--attempts <n>', 'with --position: attempts before keeping the best', '3')
    .option('--threshold <q>', 'with --position: quality (0–100) accepted at once', '40')
    .action(action(async (opts: ConnOpts & { out?: string; wait: string; position?: string; attempts: string; threshold: string }, cmd: Command) => {
      const timeoutMs = secondsOption('--wait', opts.wait, 1, 600) ?? 20_000;
      const position = intOption('--position', opts.position, 1, 10);
      const attempts = intOption('--attempts', opts.attempts, 1, 20) ?? 3;
      const threshold = intOption('--threshold', opts.threshold, 0, 100) ?? 40;
      if (opts.out && !opts.out.toLowerCase().endsWith('.png')) throw new UsageError(`--out must name a .png file, got ${opts.out}`);
      const c = await connect(opts, cmd);
      try {
        await c.scanner.open();
        if (!opts.json) process.stderr.write('place a finger on the scanner…\n');
        let result: { width: number; height: number; ppi: number; quality: number } & Record<string, unknown>;
        let png: Buffer;
        if (position !== undefined) {
          const r = await captureFinger(c.scanner, {
            position, maxAttempts: attempts, threshold, fingerTimeoutMs: timeoutMs,
            onAttempt: (a) => { if (!opts.json) process.stderr.write(`  attempt ${a.attempt}: ${a.error ?? `quality ${a.quality}`}${a.attempt < attempts && (a.quality ?? 0) < threshold ? ' — lift and place again' : ''}\n`); },
          });
          png = r.png;
          result = { position, finger: FINGER_NAMES[r.position], width: r.width, height: r.height, ppi: r.ppi, quality: r.quality, attempts: r.attempts, meetsThreshold: r.meetsThreshold, attemptQualities: r.attemptQualities };
        } else {
          const img = await c.scanner.captureImage({ timeoutMs });
          png = img.png;
          result = { width: img.width, height: img.height, ppi: img.ppi, quality: img.quality.score, area: img.quality.area, coherence: img.quality.coherence, contrast: img.quality.contrast, uploadMs: Math.round(img.uploadMs) };
        }
        if (opts.out) writeFileSync(opts.out, png);
        const out = { model: c.scanner.model, port: c.scanner.port, ...result, pngBytes: png.length, out: opts.out ?? null };
        if (opts.json) return printJson(out);
        process.stdout.write(`captured ${out.width}×${out.height} at ${out.ppi} ppi, quality ${out.quality}/100${opts.out ? ` → ${opts.out}` : ''}\n`);
      } finally {
        await c.done();
      }
    }));

  fp.command('simulate')
    .description('run the protocol simulator on a pseudo-terminal and print its path (Ctrl-C stops it)')
    .option('--model <model>', `model to emulate: ${MODELS.join(' | ')}`, 'r307')
    .option('--image <kind>', `finger that touches the sensor: ${FINGER_IMAGE_KINDS.join(' | ')}`, 'good')
    .option('--pace', 'deliver bytes at the module\'s baud rate like a real UART')
    .option('--json', 'print {"path", "model", "baud"} as JSON')
    .action(action(async (opts: { model: string; image: string; pace?: boolean; json?: boolean }) => {
      const model = parseModel(opts.model);
      const sim = await startSimulator({ model, image: parseImage(opts.image), paceBaud: opts.pace ? true : undefined });
      const info = { path: sim.path, model, baud: sim.baud };
      if (opts.json) printJson(info);
      else {
        process.stdout.write(`${sim.path}\n`);
        process.stderr.write(`${modelInfo(model).label} simulator at ${sim.baud} baud on ${sim.path}; a "${opts.image}" finger touches when the host polls.\n`
          + `try: station fingerprint capture --model ${model} --port ${sim.path} --out finger.png   (Ctrl-C stops the simulator)\n`);
      }
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await sim.stop();
    }));
}
