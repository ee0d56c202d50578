/**
 * The workflow's fingerprint step with the real capture flow and driver on the simulator: the
 * same finger given twice stops the step with the duplicate message (and which finger it matched),
 * and the module keeps nothing of the session once it is over.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createScanner, startSimulator, type FingerprintScanner, type SimulatorHandle } from '../../drivers/fingerprint';
import type { R30xSim } from '../../drivers/fingerprint/sim';
import { fingerprintPort } from '../../station/workflow/adapters';
import { GOOD_DETAILS, makeRig, type Rig, consentGiven } from './helpers';

let rig: Rig | undefined;
let sim: SimulatorHandle | undefined;
let scanner: FingerprintScanner | undefined;
afterEach(async () => {
  rig?.cleanup();
  await scanner?.close();
  await sim?.stop();
  rig = undefined; sim = undefined; scanner = undefined;
});

/** Resolves when the workflow is no longer busy with a device. */
function idle(r: Rig, token: string): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => { if (!r.wf.view(token).session?.busy) { r.wf.off('change', check); resolve(); } };
    r.wf.on('change', check);
    check();
  });
}

describe('same finger twice in one session', () => {
  it('stops the step naming the finger it matched; a new session starts clean; nothing stays in the module', async () => {
    sim = await startSimulator({ model: 'r307', autoFinger: false });
    scanner = createScanner({ model: 'r307', port: sim.path });
    await scanner.open();
    const port = fingerprintPort(scanner, { maxAttempts: 1, threshold: 40, waitForRemoval: false, fingerTimeoutMs: 10_000 });
    rig = await makeRig({ fingerprint: port, positions: [2, 7, 3] });
    const { token } = await rig.wf.login('off1', '123456');
    await rig.wf.startSession(token);
    rig.wf.chooseKind(token, 'enrollment');
    consentGiven(rig.wf, token);
    expect(rig.wf.submitDetails(token, GOOD_DETAILS).ok).toBe(true);

    sim.placeFinger('good', 'right index');
    await rig.wf.captureFinger(token, 2);
    expect(rig.wf.view(token).session!.fingers[0]).toMatchObject({ position: 2, status: 'captured' });
    // the right index again, offered as the left index
    sim.placeFinger('good', 'right index');
    const v = await rig.wf.captureFinger(token, 7);
    await idle(rig, token);
    const s = rig.wf.view(token).session!;
    expect(s.lastError).toMatchObject({ op: 'finger', code: 'FP_DUPLICATE_FINGER', position: 7, matchedPosition: 2, message: 'this looks like the right index already captured' });
    expect(s.fingers.find((f) => f.position === 7)!.status).toBe('pending');
    void v;
    // the real left index passes
    sim.placeFinger('good', 'left index');
    await rig.wf.captureFinger(token, 7);
    expect(rig.wf.view(token).session!.fingers.find((f) => f.position === 7)!.status).toBe('captured');
    expect((sim.device as R30xSim).library.size).toBe(2);

    // aborting ends the session: the module's slots are emptied (the scanner runs commands in order)
    rig.wf.abort(token);
    expect(await scanner.templateCount()).toBe(0);

    // next person: the earlier person's fingers are not held against them
    await rig.wf.startSession(token);
    rig.wf.chooseKind(token, 'enrollment');
    consentGiven(rig.wf, token);
    rig.wf.submitDetails(token, GOOD_DETAILS);
    sim.placeFinger('good', 'right index');
    await rig.wf.captureFinger(token, 2);
    expect(rig.wf.view(token).session!.lastError).toBeNull();
    // redo drops the finger from the check: the same finger may then be given for another position
    rig.wf.redoFinger(token, 2);
    sim.placeFinger('good', 'right index');
    await rig.wf.captureFinger(token, 3);
    expect(rig.wf.view(token).session!.lastError).toBeNull();
  });
});
