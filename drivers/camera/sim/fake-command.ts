import { dirname, join } from 'node:path';

/**
 * How to start the fake camera program (sim/fake-camera) from this install:
 * the compiled .js next to this file, or the .ts through ts-node in a checkout.
 * Tests wrap it in a shell script named rpicam-still / ffmpeg / fswebcam.
 */
export function fakeCameraCommand(): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  if (__filename.endsWith('.js')) {
    return { command: process.execPath, args: [join(__dirname, 'fake-camera.js')], env: {} };
  }
  const root = join(__dirname, '..', '..', '..');
  return {
    command: process.execPath,
    args: ['-r', require.resolve('ts-node/register/transpile-only'), join(__dirname, 'fake-camera.ts')],
    env: { TS_NODE_PROJECT: join(root, 'tsconfig.json') },
  };
}

export const FAKE_CAMERA_DIR = dirname(__filename);
