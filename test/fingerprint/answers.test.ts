/**
 * Device answers checked (#17.6): impossible parameters, a model that does not match what the
 * module reports, unknown or out-of-place codes, short answers — each names the port, the command
 * and the setting to fix.
 */
import { describe, expect, it } from 'vitest';
import { CMD, encodeSysParams } from '../../drivers/fingerprint/r30x-codec';
import { GT } from '../../drivers/fingerprint/gt-codec';
import { rejectionOf, withSim } from './helpers';

const sysParams = (over: Partial<{ librarySize: number; baudN: number; securityLevel: number }>) =>
  [...encodeSysParams({ status: 0, systemId: 0, librarySize: 1000, securityLevel: 3, address: 0xffffffff, packetSizeCode: 2, baudN: 6, ...over })];

describe('R30x answers', () => {
  it('a library size no module has is impossible: refused, naming the port and the model setting', async () => {
    await withSim({ model: 'r503', faults: { r30xReply: { command: CMD.ReadSysPara, code: 0, results: sysParams({ librarySize: 59780 }) } } }, async (sim, sc) => {
      const err = await rejectionOf(sc.open());
      expect(err.code).toBe('FP_IMPLAUSIBLE');
      expect(err.message).toContain(sim.path);
      expect(err.message).toContain('library size 59780');
      expect(err.hint).toContain('devices.fingerprint.model');
    });
  });
  it('an R307 configured as an R503: the configured model is probably wrong, and which model matches', async () => {
    await withSim({ model: 'r307' }, async (sim, sc) => {
      const err = await rejectionOf(sc.open());
      expect(err.code).toBe('FP_MODEL_MISMATCH');
      expect(err.message).toBe(`fingerprint scanner on ${sim.path} does not look like a R503: its library holds 1000 templates (that is what an R307 holds), a R503 holds 200`);
      expect(err.hint).toMatch(/configured model is probably wrong/);
    }, { model: 'r503' });
  });
  it('a short ReadSysPara answer names the port and the fix', async () => {
    await withSim({ model: 'r307', faults: { r30xReply: { command: CMD.ReadSysPara, code: 0, results: [] } } }, async (sim, sc) => {
      const err = await rejectionOf(sc.open());
      expect(err.code).toBe('FP_BAD_ANSWER');
      expect(err.message).toBe(`fingerprint scanner on ${sim.path} answered ReadSysPara with 0 bytes of parameters; a R307 sends 16`);
      expect(err.hint).toMatch(/devices\.fingerprint\.model/);
    });
  });
  it('a code the command does not answer is not named as if it meant something for it', async () => {
    await withSim({ model: 'r307', faults: { r30xReply: { command: CMD.VfyPwd, code: 0x06 } } }, async (sim, sc) => {
      const err = await rejectionOf(sc.open());
      expect(err.message).toBe(`fingerprint scanner on ${sim.path}: VfyPwd failed: unexpected code 0x06, which VfyPwd does not answer (for other commands it means "image too disorderly")`);
    });
    await withSim({ model: 'r307', faults: { r30xReply: { command: CMD.VfyPwd, code: 0x9a } } }, async (_sim, sc) => {
      expect((await rejectionOf(sc.open())).message).toMatch(/VfyPwd failed: unknown code 0x9a \(raw value 154\) in the answer to VfyPwd$/);
    });
  });
  it('a template count beyond the library is impossible', async () => {
    await withSim({ model: 'r307', faults: { r30xReply: { command: CMD.TemplateNum, code: 0, results: [0x0b, 0xb8] } } }, async (_sim, sc) => {
      const err = await rejectionOf(sc.open());
      expect(err.code).toBe('FP_IMPLAUSIBLE');
      expect(err.message).toContain('3000 templates stored in a library of 1000');
    });
  });
});

describe('GT-521 answers', () => {
  it('an enroll count beyond the capacity is impossible', async () => {
    await withSim({ model: 'gt521f52', faults: { gtReply: { command: GT.GetEnrollCount, ack: true, parameter: 4098 } } }, async (sim, sc) => {
      const err = await rejectionOf(sc.open());
      expect(err.code).toBe('FP_IMPLAUSIBLE');
      expect(err.message).toBe(`fingerprint scanner on ${sim.path} reports impossible parameters: 4098 templates stored in a library of 3000`);
    });
  });
  it('an unknown NACK code is shown as unknown with the raw value and the command', async () => {
    await withSim({ model: 'gt521f32', autoFinger: false }, async (sim, sc) => {
      await sc.open();
      sim.faults.gtReply = { command: GT.CmosLed, ack: false, parameter: 0 };
      const err = await rejectionOf(sc.led('on'));
      expect(err.message).toBe(`fingerprint scanner on ${sim.path}: CmosLed failed: unknown NACK code 0x0000 (raw value 0) in the answer to CmosLed`);
      expect(err.hint).toMatch(/devices\.fingerprint\.model/);
    });
  });
});
