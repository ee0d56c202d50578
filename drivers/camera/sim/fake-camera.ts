/**
 * A fake camera program: stands in for rpicam-still / libcamera-still, ffmpeg or
 * fswebcam so the child-process code runs for real. It understands the size
 * arguments of each (--width/--height, -video_size WxH, -r WxH) and the device
 * argument (-i DEV, -d DEV), and writes one JPEG of the synthetic scene to stdout.
 *
 * Behaviour is chosen by the environment:
 *   FAKE_CAMERA_FAULT   one of the SimFault names (dark, blurred, off-centre, slow,
 *                       child-crash, busy, garbage, …); empty = a good photo
 *   FAKE_CAMERA_SLOW_MS how long 'slow' sleeps before answering (default 10 min)
 *   FAKE_CAMERA_ARGV    append {pid, argv} (one JSON line) to this file
 */
import { appendFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isSimFault } from '../types';
import { renderScene } from './scene';

function argAfter(argv: string[], ...names: string[]): string | undefined {
  for (let i = 0; i < argv.length - 1; i++) if (names.includes(argv[i]!)) return argv[i + 1];
  return undefined;
}

function size(argv: string[]): { width: number; height: number } {
  const wxh = argAfter(argv, '-video_size', '-s', '-r', '--resolution');
  if (wxh && /^\d+x\d+$/.test(wxh)) {
    const [w, h] = wxh.split('x').map(Number) as [number, number];
    return { width: w, height: h };
  }
  const w = Number(argAfter(argv, '--width', '-w') ?? 1640);
  const h = Number(argAfter(argv, '--height', '-h') ?? 1232);
  return { width: w || 1640, height: h || 1232 };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (process.env.FAKE_CAMERA_ARGV) appendFileSync(process.env.FAKE_CAMERA_ARGV, `${JSON.stringify({ pid: process.pid, argv })}\n`);
  const device = argAfter(argv, '-i', '-d', '--device');
  if (device && device.startsWith('/') && !existsSync(device)) {
    process.stderr.write(`${device}: No such file or directory\n`);
    process.exit(1);
  }
  const faultEnv = process.env.FAKE_CAMERA_FAULT ?? '';
  const fault = isSimFault(faultEnv) ? faultEnv : null;
  switch (fault) {
    case 'slow':
      await new Promise((r) => setTimeout(r, Number(process.env.FAKE_CAMERA_SLOW_MS ?? 600_000)));
      break;
    case 'child-crash': {
      // Half a picture, then a crash — what a camera stack falling over looks like.
      const jpeg = await renderScene({ width: 320, height: 240 });
      process.stdout.write(jpeg.subarray(0, jpeg.length >> 1), () => {
        process.stderr.write('[0:00:01.2] camera frontend: dequeue timeout\n');
        // Should the system keep core files in the working directory, keep them out of the checkout.
        process.chdir(tmpdir());
        process.kill(process.pid, 'SIGSEGV');
      });
      return;
    }
    case 'busy':
      process.stderr.write('ERROR: *** failed to acquire camera /base/soc/i2c0mux/i2c@1/imx477@1a: Device or resource busy ***\n');
      process.exit(255);
      return;
    case 'garbage':
      process.stdout.write('mjpeg: frame 1 dropped; mjpeg: frame 2 dropped\n'.repeat(40));
      return;
    default:
      break;
  }
  const jpeg = await renderScene({ ...size(argv), fault: fault === 'slow' ? null : fault, seed: process.pid });
  process.stdout.write(jpeg);
}

main().catch((e: unknown) => {
  process.stderr.write(`fake camera: ${(e as Error).message}\n`);
  process.exit(70);
});
