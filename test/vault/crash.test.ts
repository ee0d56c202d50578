import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileChild, crashRounds } from './crash-harness';
import { makeWorld } from './fixtures';

type World = Awaited<ReturnType<typeof makeWorld>>;

describe('crash safety: SIGKILL at random moments while sealing', () => {
  let child: ReturnType<typeof compileChild>;
  let w: World;
  beforeAll(async () => {
    child = compileChild();
    w = await makeWorld('ST-CRASH');
  }, 120_000);
  afterAll(() => {
    child?.cleanup();
    w?.cleanup();
  });

  it('after each of 50 kills: integrity ok, every reported record present and opening, no duplicates', async () => {
    const s = await crashRounds({
      script: child.script,
      dataDir: w.dataDir,
      hqPublicPath: w.hqPublicPath,
      stationId: w.stationId,
      station: w.station,
      hq: w.hq,
      rounds: 50,
      kbPerRecord: 60,
      maxDelayMs: 250,
    });
    expect(s.kills).toBe(50);
    // The kills must actually have interrupted sealing: every life but each 7th was killed after
    // it had promised at least one record (an event, not a rate: it holds on a loaded machine).
    expect(s.killedAfterSeal).toBe(43);
    expect(s.reported).toBeGreaterThanOrEqual(43);
    expect(s.stored).toBeGreaterThanOrEqual(s.reported);
    expect(s.auditEntries).toBeGreaterThan(s.reported);
  }, 180_000);
});
