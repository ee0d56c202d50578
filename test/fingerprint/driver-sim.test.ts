/**
 * Driver against the protocol simulator over a real pseudo-terminal (socat) with the real
 * node-serialport binding, for every supported model.
 */
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { DisconnectedError, DeviceTimeoutError } from '../../drivers/common/errors';
import { MODEL_TABLE, MODELS, createScanner, startSimulator } from '../../drivers/fingerprint';
import { CMD, encodeAck } from '../../drivers/fingerprint/r30x-codec';
import type { R30xScanner, TouchSignal } from '../../drivers/fingerprint';
import type { R30xSim } from '../../drivers/fingerprint/sim';
import { once, rejectionOf, withSim } from './helpers';

describe.each(MODELS.map((m) => [m]))('%s against the simulator', (model) => {
  const m = MODEL_TABLE[model];
  it('opens, reports the module, captures a good image as an 8-bit grey PNG', async () => {
    await withSim({ model, image: 'good' }, async (sim, sc) => {
      const info = await sc.open();
      expect(info).toMatchObject({ model, family: m.family, width: m.width, height: m.height, ppi: m.ppi, capacity: m.capacity, templateCount: 0, baud: m.defaultBaud });
      const present: unknown[] = [];
      sc.on('fingerPresent', () => present.push(1));
      const img = await sc.captureImage({ timeoutMs: 10000 });
      expect(present).toHaveLength(1);
      expect(img.width).toBe(m.width);
      expect(img.height).toBe(m.height);
      expect(img.pixels.length).toBe(m.width * m.height);
      expect(img.quality.score).toBeGreaterThanOrEqual(60);
      const meta = await sharp(img.png).metadata();
      expect(meta).toMatchObject({ format: 'png', channels: 1, width: m.width, height: m.height, density: m.ppi });
      // the hands-free finger lifts after its image was read
      await sc.waitForFingerRemoved({ timeoutMs: 5000 });
      expect(await sc.templateCount()).toBe(0);
      expect(sim.baud).toBe(m.defaultBaud);
    });
  });

  it('unplug mid-upload gives DisconnectedError; the driver recovers when the device comes back', async () => {
    await withSim({ model, autoFinger: false }, async (sim, sc) => {
      await sc.open();
      sim.placeFinger('good');
      sim.faults.unplugAfterBytes = Math.floor((m.width * m.height * m.wireBits) / 8 / 3);
      const disc = once(sc, 'disconnected');
      const err = await rejectionOf(sc.captureImage({ timeoutMs: 5000 }));
      expect(err).toBeInstanceOf(DisconnectedError);
      expect(err.code).toBe('FP_DISCONNECTED');
      expect(err.message).toContain(sim.path);
      await disc;
      expect(sc.connected).toBe(false);
      // while unplugged: a clear error, no hang
      const gone = await rejectionOf(sc.templateCount());
      expect(gone).toBeInstanceOf(DisconnectedError);
      const back = once(sc, 'reconnected');
      await sim.replug();
      await back; // reconnects by itself once the device is back
      expect(sc.connected).toBe(true);
      sim.placeFinger('good');
      const img = await sc.captureImage({ timeoutMs: 10000 });
      expect(img.quality.score).toBeGreaterThanOrEqual(60);
      expect(sc.connected).toBe(true);
    });
  });

  it('survives noise between frames and a corrupted reply', async () => {
    await withSim({ model, image: 'good', faults: { noise: true } }, async (sim, sc) => {
      await sc.open();
      sim.faults.badChecksum = 1;
      expect(await sc.templateCount()).toBe(0);
      sim.faults.truncate = 1;
      expect(await sc.templateCount()).toBe(0);
      const img = await sc.captureImage({ timeoutMs: 10000 });
      expect(img.quality.score).toBeGreaterThanOrEqual(60);
      const st = sc.stats();
      expect(st.discardedBytes).toBeGreaterThan(0);
      expect(st.checksumErrors).toBeGreaterThanOrEqual(1);
    });
  });

  it('a module that never answers gives a timeout naming the port and what was expected', async () => {
    await withSim({ model, faults: { silent: true } }, async (sim, sc) => {
      // the refusal comes only after every baud rate was tried and timed out (the test's own
      // timeout is the hang guard; a bound in seconds would only measure the machine)
      const err = await rejectionOf(sc.open());
      expect(err.code).toBe('FP_NO_ANSWER');
      expect(err.message).toMatch(/at any of \d+(, \d+)* baud/);
      expect(err.message).toContain(sim.path);
      expect(err.message).toContain(m.label);
      expect(err.hint).toBeTruthy();
    }, { inactivityMs: 300 });
  });
});

describe('R30x specifics', () => {
  it('a corrupted image packet is retried and the image comes through intact', async () => {
    await withSim({ model: 'r307', autoFinger: false }, async (sim, sc) => {
      await sc.open();
      sim.placeFinger('good');
      await sc.waitForFinger({ timeoutMs: 5000 });
      sim.faults.skipFrames = 40; // the ack and 39 data packets pass, the 40th is damaged
      sim.faults.badChecksum = 1;
      const a = await sc.captureImage({ waitForFinger: false });
      expect(a.quality.score).toBeGreaterThanOrEqual(60);
      expect(sc.stats().checksumErrors).toBe(1);
      sim.faults.skipFrames = 100;
      sim.faults.truncate = 1;
      sim.placeFinger('good');
      const b = await sc.captureImage({ timeoutMs: 5000 });
      expect(b.quality.score).toBeGreaterThanOrEqual(60);
      expect(sc.stats().checksumErrors + sc.stats().truncated).toBeGreaterThanOrEqual(2);
    });
  });

  it('a missing end packet (zero-filled packets follow) is capped at the expected size', async () => {
    await withSim({ model: 'as608', image: 'good', faults: { missingEnd: true } }, async (_sim, sc) => {
      await sc.open();
      const img = await sc.captureImage({ timeoutMs: 10000 });
      expect(img.pixels.length).toBe(256 * 288);
      expect(img.quality.score).toBeGreaterThanOrEqual(60);
      // the trailing zero packets do not confuse the next command
      expect(await sc.templateCount()).toBe(0);
    });
  });

  it('a wrong model (R503 configured, R307 attached) is reported, not misread', async () => {
    await withSim({ model: 'r307', image: 'good' }, async (sim, _sc) => {
      const sc = createScanner({ model: 'r503', port: sim.path });
      try {
        // the module's parameters already give it away: refused at open, before any image is misread
        const err = await rejectionOf(sc.open());
        expect(err.code).toBe('FP_MODEL_MISMATCH');
        expect(err.hint).toMatch(/model/);
      } finally {
        await sc.close();
      }
    });
  });

  it('a stale acknowledgement on the line does not answer the next command', async () => {
    await withSim({ model: 'r307' }, async (sim, sc) => {
      await sc.open();
      const frames = sc.stats().frames ?? 0;
      await (sim.device as R30xSim).sendRaw(encodeAck(0x01, [0x12, 0x34]));
      // the stale frame has reached the driver (parsed, unasked for) before the next command goes out
      for (const end = Date.now() + 10_000; (sc.stats().frames ?? 0) <= frames;) {
        if (Date.now() > end) throw new Error('the stale acknowledgement never reached the driver');
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(await sc.templateCount()).toBe(0);
    });
  });

  it('any packet size works (32 and 256 bytes, LEN 258): nothing assumes 128', async () => {
    for (const code of [0, 3]) {
      await withSim({ model: 'r307', image: 'good' }, async (_sim, sc) => {
        await sc.open();
        const r30x = sc as R30xScanner;
        expect((await r30x.command(CMD.SetSysPara, [6, code], 'SetSysPara')).code).toBe(0);
        expect((await sc.info()).packetSize).toBe(code === 0 ? 32 : 256);
        const img = await sc.captureImage({ timeoutMs: 10000 });
        expect(img.pixels.length).toBe(256 * 288);
        expect(img.quality.score).toBeGreaterThanOrEqual(60);
      });
    }
  });

  it('password: the wrong one is a clear error, the right one works', async () => {
    await withSim({ model: 'zfm20' }, async (sim) => {
      (sim.device as R30xSim).setPassword(0x1234);
      const bad = createScanner({ model: 'zfm20', port: sim.path });
      const err = await rejectionOf(bad.open());
      expect(err.code).toBe('FP_PASSWORD');
      await bad.close();
      const good = createScanner({ model: 'zfm20', port: sim.path, password: 0x1234 });
      await good.open();
      expect(await good.templateCount()).toBe(0);
      await good.close();
    });
  });

  it('finds the module at another speed (auto-baud) and warns', async () => {
    await withSim({ model: 'r307' }, async (_sim, sc) => {
      const warn = once(sc, 'warning');
      const info = await sc.open();
      expect(info.baud).toBe(57600);
      expect(String((await warn)[0])).toMatch(/57600/);
    }, { baud: 115200 });
  });

  it('a wrong speed with auto-baud off is a timeout naming the speed', async () => {
    await withSim({ model: 'r307' }, async (_sim, sc) => {
      const err = await rejectionOf(sc.open());
      expect(err).toBeInstanceOf(DeviceTimeoutError);
      expect(err.message).toMatch(/115200 baud/);
    }, { baud: 115200, autoBaud: false, inactivityMs: 400 });
  });

  it('a new speed is stored, verified, and used after the power cycle', async () => {
    await withSim({ model: 'r503', image: 'good' }, async (sim, sc) => {
      await sc.open();
      const r = await sc.setBaud(115200);
      expect(r).toMatchObject({ active: 57600, requested: 115200, switched: false, pendingPowerCycle: true });
      expect(sim.baud).toBe(57600);
      const back = once(sc, 'reconnected');
      await sim.unplug();
      await sim.replug();
      expect(sim.baud).toBe(115200);
      const info = await sc.info();
      await back;
      expect(info.baud).toBe(115200);
      const img = await sc.captureImage({ timeoutMs: 10000 });
      expect(img.width).toBe(192);
    });
  });

  it('R503 LED control works; modules without it say so', async () => {
    await withSim({ model: 'r503' }, async (_sim, sc) => {
      await sc.open();
      await sc.led('breathe', 'purple');
    });
    await withSim({ model: 'r307' }, async (_sim, sc) => {
      await sc.open();
      expect((await rejectionOf(sc.led('on'))).code).toBe('FP_UNSUPPORTED');
    });
  });
});

describe('wrong family configured', () => {
  it('a GT-521 driver on an R307 and an R307 driver on a GT-521 both fail with the model named', async () => {
    await withSim({ model: 'r307' }, async (sim) => {
      const sc = createScanner({ model: 'gt521f52', port: sim.path, inactivityMs: 300 });
      const err = await rejectionOf(sc.open());
      await sc.close();
      expect(err.code).toBe('FP_NO_ANSWER');
      expect(err.message).toContain('GT-521F52');
      expect(err.hint).toMatch(/model setting \(now gt521f52/);
    });
    await withSim({ model: 'gt521f32' }, async (sim) => {
      const sc = createScanner({ model: 'r307', port: sim.path, inactivityMs: 300 });
      const err = await rejectionOf(sc.open());
      await sc.close();
      expect(err.code).toBe('FP_NO_ANSWER');
      expect(err.message).toContain('R307');
    });
  });
});

describe('touch line', () => {
  it('with a touch signal the driver does not poll the UART until the finger is there', async () => {
    let touched!: () => void;
    let waiting!: () => void;
    const waitingForTouch = new Promise<void>((r) => (waiting = r));
    const touch: TouchSignal = { waitForTouch: () => { waiting(); return new Promise<void>((r) => (touched = r)); } };
    await withSim({ model: 'r503', autoFinger: false }, async (sim, sc) => {
      await sc.open();
      const before = sim.device.commands;
      const p = sc.captureImage({ timeoutMs: 10000 });
      // The driver asks for the touch first; every command before that has had its answer, so the
      // simulator has counted it. No sleep: the wait itself is the event.
      await waitingForTouch;
      expect(sim.device.commands).toBe(before); // nothing sent before (or instead of) waiting for the touch
      sim.placeFinger('good');
      touched();
      const img = await p;
      expect(img.quality.score).toBeGreaterThanOrEqual(60);
      expect(sim.device.commands).toBeGreaterThan(before);
    }, { touch });
  });
});

describe('GT-521 specifics', () => {
  it('moves to 115200 with verification and captures there', async () => {
    await withSim({ model: 'gt521f52', image: 'good' }, async (sim, sc) => {
      await sc.open();
      const r = await sc.setBaud(115200);
      expect(r).toMatchObject({ active: 115200, switched: true });
      expect(sim.baud).toBe(115200);
      const img = await sc.captureImage({ timeoutMs: 10000 });
      expect(img.quality.score).toBeGreaterThanOrEqual(60);
    });
  });

  it('upgradeBaud at open moves a GT-521 to the faster speed', async () => {
    await withSim({ model: 'gt521f32' }, async (sim, sc) => {
      const info = await sc.open();
      expect(info.baud).toBe(57600);
      expect(sim.baud).toBe(57600);
      expect(await sc.templateCount()).toBe(0);
    }, { upgradeBaud: 57600 });
  });

  it('falls back when the adapter garbles data at the higher speed', async () => {
    await withSim({ model: 'gt521f32', image: 'good', faults: { corruptAboveBaud: 57600 } }, async (sim, sc) => {
      await sc.open();
      const warn = once(sc, 'warning');
      const r = await sc.setBaud(115200);
      expect(r.switched).toBe(false);
      expect(r.active).toBe(9600);
      expect(sim.baud).toBe(9600);
      expect(String((await warn)[0])).toMatch(/115200/);
      const img = await sc.captureImage({ timeoutMs: 10000 });
      expect(img.quality.score).toBeGreaterThanOrEqual(60);
    }, { inactivityMs: 500 });
  });

  it('steps down by itself when checksum errors pile up at a raised speed', async () => {
    await withSim({ model: 'gt521f52', image: 'good' }, async (sim, sc) => {
      await sc.open();
      await sc.setBaud(115200);
      const fell = once(sc, 'baudFallback');
      sim.faults.corruptAboveBaud = 57600;
      // every reply at 115200 is now damaged: the retries fail, then the driver steps down
      await rejectionOf(sc.templateCount());
      await fell;
      expect(sim.baud).toBe(57600);
      expect(await sc.templateCount()).toBe(0);
    }, { inactivityMs: 1000 });
  });

  it('LED on/off; no finger gives a clear error when not waiting', async () => {
    await withSim({ model: 'gt521f32', autoFinger: false }, async (_sim, sc) => {
      await sc.open();
      await sc.led('on');
      await sc.led('off');
      const err = await rejectionOf(sc.captureImage({ waitForFinger: false }));
      expect(err.code).toBe('FP_NO_FINGER');
    });
  });
});

describe.each([['r307'], ['as608'], ['gt521f52']] as const)('%s template operations', (model) => {
  it('enrolls hands-free, identifies the same finger, not another, deletes', async () => {
    await withSim({ model, image: 'good', autoWho: 'applicant' }, async (sim, sc) => {
      await sc.open();
      await sc.enroll(5, { timeoutMs: 10000 });
      expect(await sc.templateCount()).toBe(1);
      expect(await sc.identify({ timeoutMs: 10000 })).toMatchObject({ id: 5 });
      await sc.waitForFingerRemoved({ timeoutMs: 10000 });
      sim.placeFinger('good', 'someone else');
      expect(await sc.identify({ timeoutMs: 10000 })).toBeNull();
      await sc.deleteTemplates(5);
      expect(await sc.templateCount()).toBe(0);
      expect((await rejectionOf(sc.enroll(MODEL_TABLE[model].capacity))).code).toBe('FP_BAD_ID');
    });
  });

  it('a smudged finger cannot be enrolled: a clear error', async () => {
    await withSim({ model, image: 'smudged' }, async (_sim, sc) => {
      await sc.open();
      const err = await rejectionOf(sc.enroll(1, { timeoutMs: 10000 }));
      expect(err.code).toBe('FP_POOR_IMAGE');
      expect(await sc.templateCount()).toBe(0);
    });
  });
});

describe('simulator prerequisites', () => {
  it('without socat the simulator fails with a message naming the package', async () => {
    const before = readdirSync(tmpdir());
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent-dir';
    try {
      const err = await rejectionOf(startSimulator({ model: 'r307' }));
      expect(err.code).toBe('FP_SOCAT_MISSING');
      expect(`${err.message} ${err.hint}`).toMatch(/apt-get install socat/);
      expect(readdirSync(tmpdir()).filter((d) => d.startsWith('fpsim-r307-') && !before.includes(d))).toEqual([]);
    } finally {
      process.env.PATH = saved;
    }
  });
});
