/**
 * The campaign's pure parts (#20): what "a day" is in a time zone (including days of 23 and 25
 * hours), the units file (line-numbered problems, nothing accepted with any), the CSV quoting, and
 * how the ingest believes a validator's kind and completion time (an older validator sends none).
 */
import { describe, expect, it } from 'vitest';
import { campaignDayBounds, campaignProblem, csvField, dayOf, isDay, parseCsv, parseUnitsCsv, startOfDay } from '../../sync/hq/campaign';
import { completionTime, verdictMetadata } from '../../sync/hq/validate';

describe('campaign days', () => {
  it('a day in Asia/Ho_Chi_Minh is 17:00 UTC the day before to 17:00 UTC', () => {
    expect(startOfDay('2026-11-20', 'Asia/Ho_Chi_Minh')).toBe(Date.parse('2026-11-19T17:00:00Z'));
    expect(dayOf(Date.parse('2026-11-19T16:59:59.999Z'), 'Asia/Ho_Chi_Minh')).toBe('2026-11-19');
    expect(dayOf(Date.parse('2026-11-19T17:00:00Z'), 'Asia/Ho_Chi_Minh')).toBe('2026-11-20');
  });

  it('days across a daylight-saving change have 23 and 25 hours, with no gap between them', () => {
    const d = campaignDayBounds('2026-03-07', '2026-03-09', 'America/New_York');
    expect(d.map((x) => (x.end_at - x.start_at) / 3600_000)).toEqual([24, 23, 24]);
    const f = campaignDayBounds('2026-10-31', '2026-11-02', 'America/New_York');
    expect(f.map((x) => (x.end_at - x.start_at) / 3600_000)).toEqual([24, 25, 24]);
    for (const [x, y] of [[d[0]!, d[1]!], [f[1]!, f[2]!]] as const) expect(y.start_at).toBe(x.end_at);
  });

  it('refuses a bad campaign definition with the reason', () => {
    const ok = { id: 'c1', name: 'n', first_day: '2026-11-01', last_day: '2026-11-30', time_zone: 'Asia/Ho_Chi_Minh' };
    expect(campaignProblem(ok)).toBeNull();
    expect(campaignProblem({ ...ok, first_day: '2026-02-30' })).toMatch(/not a calendar day/);
    expect(campaignProblem({ ...ok, last_day: '2026-10-01' })).toMatch(/before the first day/);
    expect(campaignProblem({ ...ok, time_zone: 'Mars/Olympus' })).toMatch(/not an IANA time zone/);
    expect(campaignProblem({ ...ok, id: 'a b' })).toMatch(/campaign id/);
    expect(campaignProblem({ ...ok, last_day: '2028-01-01' })).toMatch(/more than 366 days/);
    expect(isDay('2024-02-29')).toBe(true);
    expect(isDay('2026-2-01')).toBe(false);
  });
});

describe('units file', () => {
  it('reads units with Vietnamese names, quoted fields, a header and a BOM', () => {
    const text = '\uFEFFcode,name,parent,level,quotaEnrollments,quotaActivations\r\n'
      + 'DN,Thành phố Đà Nẵng,,city,,\r\n'
      + 'HC,"Quận Hải Châu, trung tâm",DN,district,,\r\n'
      + 'HP,"Phường ""Hòa Phát""",HC,ward,12080,9000\r\n';
    const r = parseUnitsCsv(text);
    expect(r).toEqual({
      units: [
        { code: 'DN', name: 'Thành phố Đà Nẵng', parent: null, level: 'city' },
        { code: 'HC', name: 'Quận Hải Châu, trung tâm', parent: 'DN', level: 'district' },
        { code: 'HP', name: 'Phường "Hòa Phát"', parent: 'HC', level: 'ward' },
      ],
      quotas: [{ unit: 'DN', enrollments: null, activations: null }, { unit: 'HC', enrollments: null, activations: null }, { unit: 'HP', enrollments: 12080, activations: 9000 }],
    });
  });

  it('lists every bad row by its line and accepts nothing', () => {
    const text = [
      'DN,Đà Nẵng,,city',
      'HC,Hải Châu,DN,district',
      'HP,,HC,ward',               // 3: empty name
      'HX,Hòa Xuân,HC,village',    // 4: level
      'HC,Again,DN,district',      // 5: duplicate
      'HY,Hòa Yên,ZZ,ward',        // 6: unknown parent
      'HZ,Hòa Z,HC,ward,-5,3',     // 7: quota
      'HW,Hòa W,HC',               // 8: field count
      'D2,Dist,HC,district',       // 9: parent of the same level
      'W9,Ward,,ward',             // 10: no parent
    ].join('\n');
    const r = parseUnitsCsv(text);
    expect('problems' in r).toBe(true);
    const p = (r as { problems: { line: number; problem: string }[] }).problems;
    expect(p.map((x) => x.line)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    expect(p[0]!.problem).toMatch(/name is empty/);
    expect(p[1]!.problem).toMatch(/level "village"/);
    expect(p[2]!.problem).toMatch(/already on line 2/);
    expect(p[3]!.problem).toMatch(/parent ZZ .* neither in the file nor stored/);
    expect(p[4]!.problem).toMatch(/quotaEnrollments "-5"/);
    expect(p[5]!.problem).toMatch(/3 field\(s\)/);
    expect(p[6]!.problem).toMatch(/must be city/);
    expect(p[7]!.problem).toMatch(/without a parent/);
  });

  it('a parent already stored is fine; an unclosed quote names its line', () => {
    expect(parseUnitsCsv('HP,Hòa Phát,HC,ward\n', [{ code: 'HC', name: 'Hải Châu', parent: 'DN', level: 'district' }])).toMatchObject({ units: [{ code: 'HP' }] });
    expect(parseCsv('a,b\n"c,d\n')).toEqual({ line: 2, problem: 'a quoted field is not closed' });
    expect(parseUnitsCsv('')).toMatchObject({ problems: [{ line: 1 }] });
  });

  it('quotes CSV fields only where RFC 4180 needs it', () => {
    expect(csvField('Hòa Phát')).toBe('Hòa Phát');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "x"')).toBe('"say ""x"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(null)).toBe('');
    expect(csvField(90.6)).toBe('90.6');
  });
});

describe('kind and completion time from the validator', () => {
  it('takes a known kind and a whole time; a validator that sent none (older) or something else gives unknown', () => {
    expect(verdictMetadata({ ok: true, generation: 1, kind: 'eid-activation', completedAt: 1_800_000_000_000 })).toEqual({ kind: 'eid-activation', completedAt: 1_800_000_000_000 });
    expect(verdictMetadata({ ok: true, generation: 1 })).toEqual({ kind: null, completedAt: null });
    expect(verdictMetadata({ ok: true, generation: 1, kind: 'party' as never, completedAt: 1.5 })).toEqual({ kind: null, completedAt: null });
    expect(verdictMetadata({ ok: false, status: 'rejected', reason: 'malformed', detail: '' })).toEqual({ kind: null, completedAt: null });
  });

  it('completion by headquarters\' time when the booth knew its offset', () => {
    expect(completionTime({ completedAt: 1000, clock: { source: 'hq', offsetMs: 500, uncertaintyMs: 10 } })).toBe(1500);
    expect(completionTime({ completedAt: 1000, clock: { source: 'none' } })).toBe(1000);
    expect(completionTime({ completedAt: 1000 })).toBe(1000);
  });
});
