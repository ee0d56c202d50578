import { sharp } from '../../common/sharp';
import type { SimFault } from '../types';
import { seededRandom } from '../../common/prng';

/**
 * A synthetic portrait scene: a plain backdrop with a light gradient, a person
 * (hair with strands, face with eyes, brows, nose and mouth, neck, shoulders in a
 * woven shirt) and a little sensor noise, so that the quality metrics have real
 * edges and texture to measure. Image faults change the scene the way a booth
 * goes wrong in the field: lights off (dark), sun on the backdrop (bright), the
 * person moving (blurred), standing aside (off-centre), clutter behind the
 * backdrop (cluttered), nobody there (empty).
 */
export interface SceneOptions {
  width: number;
  height: number;
  fault?: SimFault | null;
  /** Same seed, same picture. */
  seed?: number;
  quality?: number;
  /** Store the pixels turned and tag the EXIF orientation (1, 3, 6, 8) — as a sideways-mounted camera does. */
  orientation?: 1 | 3 | 6 | 8;
}


interface Rect { x0: number; y0: number; x1: number; y1: number; r: number; g: number; b: number }

/** Renders the scene as raw RGB pixels (width × height × 3). */
export function renderSceneRaw(o: SceneOptions): Buffer {
  const { width: W, height: H } = o;
  const fault = o.fault ?? null;
  const rnd = seededRandom(o.seed ?? 1);
  const out = Buffer.allocUnsafe(W * H * 3);
  const person = fault !== 'empty';
  // Subject centre: off-centre stands at the frame's edge, beyond what cropping can fix.
  const cx = fault === 'off-centre' ? W * 0.5 + 0.4 * W : W * 0.5;
  // Person size about the eye line: too far away / too close to the camera.
  const zoom = fault === 'too-far' ? 0.5 : fault === 'too-close' ? 1.9 : 1;
  const eyesOpen = fault !== 'eyes-closed';
  const clutter: Rect[] = [];
  if (fault === 'cluttered') {
    for (let i = 0; i < 18; i++) {
      const w = (0.08 + rnd() * 0.25) * W;
      const h = (0.08 + rnd() * 0.3) * H;
      const x0 = rnd() * (W - w);
      const y0 = rnd() * (H * 0.8 - h);
      clutter.push({ x0, y0, x1: x0 + w, y1: y0 + h, r: 30 + rnd() * 200, g: 30 + rnd() * 200, b: 30 + rnd() * 200 });
    }
  }
  const inv = 1 / H;
  let p = 0;
  for (let y = 0; y < H; y++) {
    const v = y * inv;
    // the person's own coordinates, scaled about the eye line
    const pv = 0.4 + (v - 0.4) / zoom;
    for (let x = 0; x < W; x++) {
      const u = (x - cx) * inv;
      const pu = u / zoom;
      // Backdrop: light grey-blue, lit a bit more at the top.
      let r = 192 + 10 * (1 - v);
      let g = 198 + 10 * (1 - v);
      let b = 206 + 8 * (1 - v);
      if (clutter.length) {
        for (const c of clutter) {
          if (x >= c.x0 && x < c.x1 && y >= c.y0 && y < c.y1) {
            const stripe = ((x >> 4) + (y >> 4)) & 1 ? 25 : -25;
            r = c.r + stripe; g = c.g + stripe; b = c.b + stripe;
          }
        }
      }
      if (person) {
        // Shoulders and shirt.
        const su = pu / 0.36, sv = (pv - 1.1) / 0.4;
        if (su * su + sv * sv < 1 && pv > 0.7) {
          const weave = ((x * 7 + y * 3) % 11) < 5 ? 9 : -9;
          r = 32 + weave; g = 42 + weave; b = 74 + weave;
        }
        // Neck.
        if (Math.abs(pu) < 0.065 && pv > 0.54 && pv < 0.8) {
          const shade = 1 - 0.25 * (Math.abs(pu) / 0.065);
          r = 196 * shade; g = 150 * shade; b = 126 * shade;
        }
        // Hair (behind the face), with strands.
        const hu = pu / 0.155, hv = (pv - 0.385) / 0.21;
        const inHair = hu * hu + hv * hv < 1 && pv < 0.5;
        // Face.
        const fu = pu / 0.135, fv = (pv - 0.41) / 0.185;
        const fr = fu * fu + fv * fv;
        if (inHair && (fr >= 1 || pv < 0.285 + 0.04 * Math.abs(fu))) {
          const strand = 18 * Math.sin(pu * 900 + 4 * Math.sin(pv * 60)) ;
          r = 58 + strand; g = 40 + strand * 0.8; b = 28 + strand * 0.6;
        } else if (fr < 1) {
          const shade = 1 - 0.18 * fr;
          r = 224 * shade; g = 178 * shade; b = 152 * shade;
          const au = Math.abs(pu);
          // Eyes: white, iris, pupil.
          const eu = (au - 0.048) / 0.024, ev = (pv - 0.4) / 0.011;
          const er = eu * eu + ev * ev;
          if (!eyesOpen && eu * eu < 1 && Math.abs(pv - (0.4 + 0.006 * (1 - eu * eu))) < 0.0018) {
            // closed: skin over the eye, only the lash line curving down across it
            r = 45; g = 34; b = 28;
          } else if (er < 1 && eyesOpen) {
            const d = Math.hypot(au - 0.048, pv - 0.4);
            if (d < 0.0045) { r = 15; g = 12; b = 10; }
            else if (d < 0.0105) { r = 80; g = 58; b = 38; }
            else { r = 236; g = 236; b = 232; }
          }
          // Eyebrows.
          if (au > 0.022 && au < 0.08 && Math.abs(pv - (0.372 - 0.15 * (au - 0.05) * (au - 0.05) * 40)) < 0.006) { r = 70; g = 50; b = 36; }
          // Nose shadow and nostrils.
          if (pu > 0.004 && pu < 0.011 && pv > 0.41 && pv < 0.465) { r *= 0.82; g *= 0.82; b *= 0.82; }
          if (Math.abs(au - 0.016) < 0.007 && Math.abs(pv - 0.472) < 0.004) { r = 120; g = 80; b = 70; }
          // Mouth.
          const mu = pu / 0.042, mv = (pv - 0.515) / 0.0105;
          if (mu * mu + mv * mv < 1) { r = 172; g = 84; b = 84; }
          // Skin texture.
          const t = (rnd() - 0.5) * 8;
          r += t; g += t; b += t;
        }
      }
      // Sensor noise.
      const n = (rnd() + rnd() - 1) * 5;
      r += n; g += n; b += n;
      if (fault === 'dark') { r *= 0.15; g *= 0.15; b *= 0.15; }
      else if (fault === 'bright') { r = r * 1.4 + 80; g = g * 1.4 + 80; b = b * 1.4 + 80; }
      out[p++] = r < 0 ? 0 : r > 255 ? 255 : r;
      out[p++] = g < 0 ? 0 : g > 255 ? 255 : g;
      out[p++] = b < 0 ? 0 : b > 255 ? 255 : b;
    }
  }
  return out;
}

/** Renders the scene as a JPEG, as a camera would deliver it. */
export async function renderScene(o: SceneOptions): Promise<Buffer> {
  let raw = renderSceneRaw(o);
  if (o.fault === 'tilted') {
    // the head (and the body) leaning 14°: rotate about the centre, cut back to the frame
    const rot = await sharp(raw, { raw: { width: o.width, height: o.height, channels: 3 } }).rotate(14, { background: { r: 196, g: 202, b: 210 } }).raw().toBuffer({ resolveWithObject: true });
    raw = await sharp(rot.data, { raw: { width: rot.info.width, height: rot.info.height, channels: 3 } })
      .extract({ left: (rot.info.width - o.width) >> 1, top: (rot.info.height - o.height) >> 1, width: o.width, height: o.height }).raw().toBuffer();
  }
  let img = sharp(raw, { raw: { width: o.width, height: o.height, channels: 3 } });
  if (o.fault === 'blurred') img = img.blur(Math.max(1, o.height / 90));
  const orientation = o.orientation ?? 1;
  if (orientation !== 1) {
    // Store the pixels turned the opposite way; the tag tells viewers how to turn them back.
    const stored = orientation === 3 ? 180 : orientation === 6 ? 270 : 90;
    img = sharp(await img.rotate(stored).raw().toBuffer(), { raw: { width: stored === 180 ? o.width : o.height, height: stored === 180 ? o.height : o.width, channels: 3 } })
      .withMetadata({ orientation });
  }
  return img.jpeg({ quality: o.quality ?? 92 }).toBuffer();
}
