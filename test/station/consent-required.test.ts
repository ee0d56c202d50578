/**
 * No consent text, no capture (#22 item 4, bad input): a station configured
 * without `consent` refuses to start (exit 2, naming the key and what to add),
 * and `station doctor` says the same; with the text, doctor names its version.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { runCli, hasStackTrace } from '../helpers/cli';
import { CONSENT_YAML, provisionedStation } from '../helpers/station';
import { SAMPLE_CONSENT } from '../../config/consent-sample';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('the consent text is required to run', () => {
  it('run refuses without it (exit 2, says what to add); doctor fails its consent check, and passes it with the text', async () => {
    const f = await provisionedStation({ stationId: 'ST-CONSENT-1', brokerUrl: 'mqtt://127.0.0.1:9' });
    dirs.push(f.dir);
    const withText = readFileSync(f.file, 'utf8');
    expect(withText).toContain(CONSENT_YAML);
    const doctor = async (): Promise<{ check: string; status: string; message: string; hint?: string } | undefined> => {
      const r = await runCli(['doctor', '--config', f.file, '--json'], { timeoutMs: 60_000 });
      const checks = (JSON.parse(r.stdout) as { checks?: unknown[]; results?: unknown[] });
      const list = (checks.checks ?? checks.results ?? checks) as { check: string; status: string; message: string; hint?: string }[];
      return list.find((c) => c.check === 'consent');
    };
    expect(await doctor()).toMatchObject({ status: 'ok', message: expect.stringContaining(SAMPLE_CONSENT.version) });

    writeFileSync(f.file, withText.replace(`${CONSENT_YAML}\n`, ''));
    const run = await runCli(['run', '--config', f.file], { timeoutMs: 60_000 });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/consent/);
    expect(run.stderr).toMatch(/there is no consent text/);
    expect(run.stderr).toMatch(/text\.vi/);
    expect(hasStackTrace(run.stderr)).toBe(false);
    expect(await doctor()).toMatchObject({ status: 'fail', message: expect.stringMatching(/no consent text/), hint: expect.stringMatching(/station\.example\.yaml/) });
  });
});
