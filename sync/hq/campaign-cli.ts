/**
 * `hq campaign …` (#20, docs/campaigns.md): campaigns, their units and quotas as data in the
 * headquarters store (SQLite or PostgreSQL, as the settings choose), and the report of what
 * headquarters stored per unit and day, as text, JSON or CSV for the daily report to leadership.
 */
import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { StationError, UsageError } from '../../config/errors';
import type { HqStoreApi, QuotaRow } from './store-api';
import {
  DEFAULT_TIME_ZONE, DayOutsideCampaignError, UNIT_LEVELS, UnknownCampaignError, campaignDayBounds, campaignProblem, campaignSummary, isDay, isUnitLevel,
  parseUnitsCsv, summaryCsv, summaryText, type UnitLevel,
} from './campaign';

interface Helpers {
  settingsOf(cmd: Command): unknown;
  act<A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void): (...args: A) => Promise<void>;
  /** The store the settings choose (database.url: PostgreSQL; else dataDir/hq.db). */
  openStore(s: unknown): Promise<HqStoreApi>;
  closestName(word: string, options: readonly string[]): string | undefined;
}

function out(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

/** The campaign, or a usage error naming the known ones (and the likely one). */
async function campaignOrFail(store: HqStoreApi, id: string, closest: Helpers['closestName']) {
  const c = await store.campaign(id);
  if (c) return c;
  throw unknownCampaign(id, (await store.campaigns()).map((x) => x.id), closest);
}

function unknownCampaign(id: string, known: string[], closest: Helpers['closestName']): UsageError {
  const guess = closest(id, known);
  return new UsageError(`there is no campaign "${id}"${guess ? ` — did you mean "${guess}"?` : ''}`,
    known.length ? `campaigns: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ' …' : ''} (hq campaign list)` : 'no campaign exists yet: hq campaign create ID --name … --from YYYY-MM-DD --to YYYY-MM-DD', 'HQ_CAMPAIGN_UNKNOWN');
}

function quotaArg(v: string | undefined, flag: string): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === 'none') return null;
  if (!/^\d{1,9}$/.test(v.trim())) throw new UsageError(`${flag} "${v}" is not a whole number ≥ 0`, `give a number, or "none" to remove the quota`);
  return Number(v.trim());
}

function readText(file: string): string {
  let raw: Buffer;
  try {
    raw = file === '-' ? readFileSync(0) : readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'give the path of a CSV file ("-" for stdin)');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new UsageError(`${file} is not UTF-8 text`, 'save it as "CSV UTF-8" (in Excel: Save As → CSV UTF-8), so Vietnamese names arrive as written', 'HQ_UNITS_FILE');
  }
}

/** The `hq campaign` commands (the one hook in sync/hq/main.ts). */
export function registerCampaign(program: Command, h: Helpers): void {
  const campaign = program.command('campaign').description('campaigns, their units (ward → district → city) and quotas, and reports of what headquarters stored (docs/campaigns.md)');
  const withStore = async <T>(cmd: Command, fn: (s: HqStoreApi) => Promise<T>): Promise<T> => {
    const store = await h.openStore(h.settingsOf(cmd));
    try { return await fn(store); } finally { await store.close(); }
  };

  campaign.command('create')
    .description('create a campaign: its days, first to last inclusive, in its time zone')
    .argument('<id>', 'campaign id (letters, digits, ".", "_", "-")')
    .requiredOption('--name <name>', 'the campaign\'s name (any language)')
    .requiredOption('--from <day>', 'first day, YYYY-MM-DD')
    .requiredOption('--to <day>', 'last day, YYYY-MM-DD')
    .option('--tz <zone>', 'IANA time zone that says when a day begins and ends', DEFAULT_TIME_ZONE)
    .option('--allow-overlap', 'allow days shared with another campaign (the same records then count in both)')
    .option('--json', 'machine-readable output')
    .action(h.act(async (id: string, o: { name: string; from: string; to: string; tz: string; allowOverlap?: boolean; json?: boolean }, cmd: Command) => {
      const c = { id, name: o.name.trim().normalize('NFC'), first_day: o.from, last_day: o.to, time_zone: o.tz };
      const problem = campaignProblem(c);
      if (problem) throw new UsageError(problem, 'e.g. hq campaign create hcm-2026-11 --name "Tháng 11" --from 2026-11-01 --to 2026-11-30', 'HQ_CAMPAIGN_INVALID');
      const days = campaignDayBounds(c.first_day, c.last_day, c.time_zone);
      await withStore(cmd, async (store) => {
        const r = await store.createCampaign(c, days, { allowOverlap: !!o.allowOverlap });
        if (!r.ok && r.reason === 'exists') throw new UsageError(`campaign ${id} already exists`, `see it with hq campaign show ${id}, or choose another id`, 'HQ_CAMPAIGN_EXISTS');
        if (!r.ok && r.reason === 'overlap') {
          throw new UsageError(`${c.first_day} … ${c.last_day} shares days with ${r.with.map((x) => `${x.id} (${x.first_day} … ${x.last_day})`).join(', ')}: the same stored records would count in both`,
            'choose other days, or add --allow-overlap if both campaigns are meant to count them', 'HQ_CAMPAIGN_OVERLAP');
        }
        out(!!o.json, { ...c, days: days.length }, `created campaign ${id} "${c.name}": ${days.length} day(s), ${c.first_day} … ${c.last_day}, days in ${c.time_zone}\nnext: hq campaign units import ${id} UNITS.csv`);
      });
    }));

  campaign.command('list')
    .description('the campaigns, by first day')
    .option('--json', 'machine-readable output')
    .action(h.act(async (o: { json?: boolean }, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const list = await store.campaigns();
        out(!!o.json, list, list.length ? list.map((c) => `${c.id}  ${c.first_day} … ${c.last_day}  ${c.time_zone}  ${c.name}`).join('\n') : 'no campaigns: hq campaign create ID --name … --from YYYY-MM-DD --to YYYY-MM-DD');
      });
    }));

  campaign.command('show')
    .description('a campaign: its days, units by level, quotas, and stations whose unit is not defined')
    .argument('<id>', 'campaign id')
    .option('--json', 'machine-readable output')
    .action(h.act(async (id: string, o: { json?: boolean }, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const c = await campaignOrFail(store, id, h.closestName);
        const [days, units, quotas, stations] = await Promise.all([store.campaignDays(id), store.units(), store.quotas(id), store.stations()]);
        const known = new Set(units.map((u) => u.code));
        const byLevel = Object.fromEntries(UNIT_LEVELS.map((l) => [l, units.filter((u) => u.level === l).length]));
        const sum = (k: 'enrollments' | 'activations') => quotas.filter((q) => units.find((u) => u.code === q.unit)?.level === 'ward').reduce((n, q) => n + (q[k] ?? 0), 0);
        const orphans = stations.filter((s) => !s.unit || !known.has(s.unit)).map((s) => ({ stationId: s.station_id, unit: s.unit }));
        const v = { campaign: c, days: days.length, units: byLevel, quotas: quotas.length, wardQuota: { enrollments: sum('enrollments'), activations: sum('activations') }, stationsOutsideUnits: orphans };
        out(!!o.json, v, [
          `${c.id} "${c.name}": ${c.first_day} … ${c.last_day} (${days.length} days, in ${c.time_zone})`,
          `units: ${UNIT_LEVELS.map((l) => `${byLevel[l]} ${l}(s)`).join(', ')}; quotas set for ${quotas.length} unit(s); wards' quotas: ${v.wardQuota.enrollments} enrollments, ${v.wardQuota.activations} e-ID activations`,
          ...(orphans.length ? [`stations whose unit is not defined (their records are not in any unit's figures): ${orphans.map((x) => `${x.stationId} (${x.unit ?? 'no unit'})`).join(', ')}`] : []),
        ].join('\n'));
      });
    }));

  const units = campaign.command('units').description('the units of the hierarchy (ward → district → city)');
  units.command('import')
    .description('add or replace units, and their quotas for the campaign, from a UTF-8 CSV: code,name,parent,level[,quotaEnrollments,quotaActivations]; nothing is imported if any row is bad')
    .argument('<id>', 'campaign id (the quotas are for it)')
    .argument('<file>', 'CSV file ("-" for stdin)')
    .option('--json', 'machine-readable output')
    .action(h.act(async (id: string, file: string, o: { json?: boolean }, cmd: Command) => {
      const text = readText(file);
      await withStore(cmd, async (store) => {
        await campaignOrFail(store, id, h.closestName);
        const r = parseUnitsCsv(text, await store.units());
        if ('problems' in r) {
          const shown = r.problems.slice(0, 50).map((p) => `  line ${p.line}: ${p.problem}`).join('\n');
          throw new StationError('HQ_UNITS_FILE', `${file}: ${r.problems.length} bad row(s), nothing imported:\n${shown}${r.problems.length > 50 ? `\n  … and ${r.problems.length - 50} more` : ''}`,
            { exitCode: 2, hint: 'each line: code,name,parent,level[,quotaEnrollments,quotaActivations] with level ward, district or city (a city has no parent); fix the lines and import again' });
        }
        await store.importUnits(r.units, { campaignId: id, rows: r.quotas });
        const by = Object.fromEntries(UNIT_LEVELS.map((l) => [l, r.units.filter((u) => u.level === l).length]));
        out(!!o.json, { campaign: id, units: r.units.length, byLevel: by, quotas: r.quotas.length },
          `imported ${r.units.length} unit(s) (${UNIT_LEVELS.map((l) => `${by[l]} ${l}`).join(', ')})${r.quotas.length ? `, quotas for ${r.quotas.length} unit(s) in campaign ${id}` : ''}`);
      });
    }));

  const quota = campaign.command('quota').description("a unit's quotas for a campaign");
  quota.command('set')
    .description("set (or with \"none\" remove) a unit's enrollment and/or e-ID activation quota for the campaign")
    .argument('<id>', 'campaign id')
    .argument('<unit>', 'unit code')
    .option('--enrollments <n>', 'enrollment quota for the whole campaign (or none)')
    .option('--activations <n>', 'e-ID activation quota for the whole campaign (or none)')
    .option('--json', 'machine-readable output')
    .action(h.act(async (id: string, unit: string, o: { enrollments?: string; activations?: string; json?: boolean }, cmd: Command) => {
      const e = quotaArg(o.enrollments, '--enrollments');
      const a = quotaArg(o.activations, '--activations');
      if (e === undefined && a === undefined) throw new UsageError('nothing to set', 'give --enrollments N and/or --activations N (or none to remove one)');
      await withStore(cmd, async (store) => {
        await campaignOrFail(store, id, h.closestName);
        const all = await store.units();
        if (!all.some((u) => u.code === unit)) {
          const guess = h.closestName(unit, all.map((u) => u.code));
          throw new UsageError(`unit ${unit} is not defined${guess ? ` — did you mean "${guess}"?` : ''}`, `import it first: hq campaign units import ${id} FILE`, 'HQ_UNIT_UNKNOWN');
        }
        const cur = (await store.quotas(id)).find((q) => q.unit === unit);
        const next: QuotaRow = { unit, enrollments: e === undefined ? cur?.enrollments ?? null : e, activations: a === undefined ? cur?.activations ?? null : a };
        await store.setQuota(id, next);
        out(!!o.json, { campaign: id, ...next }, `${id} ${unit}: enrollment quota ${next.enrollments ?? 'none'}, e-ID activation quota ${next.activations ?? 'none'}`);
      });
    }));

  campaign.command('report')
    .description('what headquarters stored per unit and day against the quotas, with the roll-up and the stations whose unsent backlog will still change the figures')
    .argument('<id>', 'campaign id')
    .option('--level <level>', `units of this level: ${UNIT_LEVELS.join(', ')}, or all`, 'ward')
    .option('--day <day>', 'figures through this day (YYYY-MM-DD); default today in the campaign\'s time zone')
    .option('--csv', 'CSV: one row per unit per day (UTF-8 with BOM, columns in docs/campaigns.md)')
    .option('--json', 'machine-readable output')
    .option('--out <file>', 'write to this file instead of stdout')
    .action(h.act(async (id: string, o: { level: string; day?: string; csv?: boolean; json?: boolean; out?: string }, cmd: Command) => {
      if (!isUnitLevel(o.level) && o.level !== 'all') throw new UsageError(`--level "${o.level}" is not one of ${UNIT_LEVELS.join(', ')}, all`);
      if (o.day !== undefined && !isDay(o.day)) throw new UsageError(`--day "${o.day}" is not a calendar day written YYYY-MM-DD`);
      if (o.csv && o.json) throw new UsageError('--csv and --json: choose one');
      await withStore(cmd, async (store) => {
        let s;
        try {
          s = await campaignSummary(store, id, { level: o.level as UnitLevel | 'all', ...(o.day ? { day: o.day } : {}) });
        } catch (e) {
          if (e instanceof UnknownCampaignError) throw unknownCampaign(e.id, e.known, h.closestName);
          if (e instanceof DayOutsideCampaignError) throw new UsageError(e.message, `give a day from ${e.c.first_day} to ${e.c.last_day}`);
          throw e;
        }
        const text = o.csv ? summaryCsv(s) : o.json ? `${JSON.stringify(s, null, 2)}\n` : `${summaryText(s)}\n`;
        if (o.out) {
          writeFileSync(o.out, text);
          process.stderr.write(`wrote ${o.out}${o.csv ? ` (${s.units.length} unit(s) × ${s.days.length} day(s))` : ''}\n`);
        } else process.stdout.write(text);
      });
    }));
}
