/**
 * Same finger twice (#22.1): each finger of a session is compared with the session's other fingers
 * by the module's own matcher (R30x Img2Tz/Search/Store/DeletChar, GT-521 Identify/Verify/
 * MakeTemplate/SetTemplate/DeleteID), through the real driver on the simulator's pty.
 */
import { describe, expect, it } from 'vitest';
import { captureFinger, MODEL_TABLE, type FingerprintModel } from '../../drivers/fingerprint';
import { CMD } from '../../drivers/fingerprint/r30x-codec';
import { GT } from '../../drivers/fingerprint/gt-codec';
import type { R30xSim, GtSim } from '../../drivers/fingerprint/sim';
import { rejectionOf, withSim } from './helpers';

const library = (sim: { device: unknown }): Map<number, Buffer> => (sim.device as R30xSim | GtSim).library;

describe.each([['r307'], ['r503'], ['gt521f52']] as [FingerprintModel][])('%s duplicate check', (model) => {
  it('stops a finger that matches another of the session, not a redo of the same finger, and leaves nothing behind', async () => {
    await withSim({ model, autoFinger: false }, async (sim, sc) => {
      await sc.open();
      await sc.sessionBegin();
      const cap = MODEL_TABLE[model].capacity;
      const take = async (position: number, who: string) => {
        sim.placeFinger('good', who);
        return captureFinger(sc, { position, maxAttempts: 1, duplicateCheck: true, waitForRemoval: false, fingerTimeoutMs: 10000 });
      };
      expect((await take(1, 'R thumb')).duplicateCheck).toBe('checked');
      expect((await take(2, 'R index')).duplicateCheck).toBe('checked');
      // the session's templates sit in the two top slots reserved for positions 1 and 2
      expect([...library(sim).keys()].sort((a, b) => a - b)).toEqual([cap - 10, cap - 9]);
      // the right thumb presented again as the right middle finger
      const err = await rejectionOf(take(3, 'R thumb'));
      expect(err.code).toBe('FP_DUPLICATE_FINGER');
      expect(err.message).toBe('this looks like the right thumb already captured');
      expect((err as unknown as { details: { matchedPosition: number } }).details.matchedPosition).toBe(1);
      // redoing the right thumb itself is not a duplicate of itself
      expect((await take(1, 'R thumb')).duplicateCheck).toBe('checked');
      // forgotten (an exception recorded instead): the index finger no longer stops anything
      await sc.sessionForget(2);
      expect((await take(3, 'R index')).duplicateCheck).toBe('checked');
      await sc.sessionEnd();
      expect(library(sim).size).toBe(0);
      expect(await sc.templateCount()).toBe(0);
    });
  });

  it('a poor print that yields no features is kept but marked unchecked', async () => {
    await withSim({ model, autoFinger: false }, async (sim, sc) => {
      await sc.open();
      await sc.sessionBegin();
      sim.placeFinger('smudged', 'someone');
      const r = await captureFinger(sc, { position: 4, maxAttempts: 1, duplicateCheck: true, waitForRemoval: false, fingerTimeoutMs: 10000 });
      expect(r.duplicateCheck).toBe('unchecked');
      expect(library(sim).size).toBe(0);
    });
  });
});

describe('a matcher answering nonsense is refused, never passed', () => {
  it('R30x: Search "found" outside the searched slots', async () => {
    await withSim({ model: 'r307', autoFinger: false }, async (sim, sc) => {
      await sc.open();
      await sc.sessionBegin();
      sim.placeFinger('good', 'a');
      await captureFinger(sc, { position: 1, maxAttempts: 1, duplicateCheck: true, waitForRemoval: false });
      sim.faults.r30xReply = { command: CMD.Search, code: 0, results: [0, 3, 0, 120] };
      sim.placeFinger('good', 'b');
      const err = await rejectionOf(captureFinger(sc, { position: 2, maxAttempts: 1, duplicateCheck: true, waitForRemoval: false }));
      expect(err.code).toBe('FP_MATCHER');
      expect(err.message).toMatch(/on .*host: .*reported id 3/);
    });
  });
  it('GT-521: Identify says the library is empty while it holds the session', async () => {
    await withSim({ model: 'gt521f32', autoFinger: false }, async (sim, sc) => {
      await sc.open();
      await sc.sessionBegin();
      sim.placeFinger('good', 'a');
      await captureFinger(sc, { position: 6, maxAttempts: 1, duplicateCheck: true, waitForRemoval: false });
      sim.faults.gtReply = { command: GT.Identify, ack: false, parameter: 0x100a };
      sim.placeFinger('good', 'b');
      const err = await rejectionOf(captureFinger(sc, { position: 7, maxAttempts: 1, duplicateCheck: true, waitForRemoval: false }));
      expect(err.code).toBe('FP_MATCHER');
      expect(err.message).toMatch(/library is empty/);
    });
  });
});
