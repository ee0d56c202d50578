/**
 * sharp (libvips), loaded at its first use rather than at start: a booth needs it
 * for a fingerprint PNG or a portrait, never to come up. Loading it costs tens of
 * milliseconds of a restart and about 19 MB of resident memory that an idle booth
 * would otherwise hold from boot.
 */
import type Sharp from 'sharp';

let lib: typeof Sharp | undefined;

export function sharp(...args: Parameters<typeof Sharp>): ReturnType<typeof Sharp> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily, only when an image is made
  lib ??= require('sharp') as typeof Sharp;
  return lib(...args);
}
