/**
 * The campaign view's data (#20 item 3): sync/hq/campaign.ts's summary of what headquarters
 * stored, shaped for the page — every campaign day (the target line runs to the last one),
 * per unit its totals, quotas, % of quota and stored records per day, and the booths' unsent
 * backlog that will still change the figures.
 */
import { campaignSummary, summaryCsv, UnknownCampaignError, type CampaignSummary, type UnitLevel } from '../campaign';
import type { HqStoreApi } from '../store-api';
import type { CampaignSource } from './server';

export interface PageUnit {
  code: string;
  name: string;
  enrollments: number;
  activations: number;
  /** Enrollment quota (null: none); activations have their own. */
  quota: number | null;
  quotaActivations: number | null;
  /** Share of the enrollment quota reached, 0..1+ (null without a quota). */
  pct: number | null;
  pctActivations: number | null;
  /** Records the unit's booths hold unsent (their last health). */
  backlog: number;
  /** Records stored per campaign day (enrollments + activations + unknown), aligned with `days`. */
  perDay: number[];
}

export interface PageSummary {
  campaign: { id: string; name: string; firstDay: string; lastDay: string; timeZone: string };
  level: UnitLevel;
  days: string[];
  today: string;
  units: PageUnit[];
  totals: { enrollments: number; activations: number; unknown: number; quota: number | null; pct: number | null; perDay: number[] };
  backlog: { stations: number; records: number; noHealth: number };
  notes: string[];
  asOf: number;
}

export function pageSummary(s: CampaignSummary, allDays: string[]): PageSummary {
  const index = new Map(allDays.map((d, i) => [d, i]));
  const units: PageUnit[] = s.units.map((u) => {
    const perDay = allDays.map(() => 0);
    for (const d of u.series) { const i = index.get(d.day); if (i !== undefined) perDay[i] = d.enrollments + d.activations + d.unknown; }
    return {
      code: u.code, name: u.name, enrollments: u.total.enrollments, activations: u.total.activations,
      quota: u.quota.enrollments, quotaActivations: u.quota.activations,
      pct: u.pct.enrollments === null ? null : u.pct.enrollments / 100, pctActivations: u.pct.activations === null ? null : u.pct.activations / 100,
      backlog: u.backlog.records, perDay,
    };
  });
  const perDay = allDays.map(() => 0);
  for (const u of s.units) for (const d of u.series) { const i = index.get(d.day); if (i !== undefined) perDay[i]! += d.enrollments; }
  const quotas = units.map((u) => u.quota).filter((q): q is number => q !== null);
  const quota = quotas.length ? quotas.reduce((a, b) => a + b, 0) : null;
  const enrollments = units.reduce((a, u) => a + u.enrollments, 0);
  return {
    campaign: { id: s.campaign.id, name: s.campaign.name, firstDay: s.campaign.first_day, lastDay: s.campaign.last_day, timeZone: s.campaign.time_zone },
    level: s.level === 'all' ? 'ward' : s.level,
    days: allDays, today: s.day, units,
    totals: { enrollments, activations: units.reduce((a, u) => a + u.activations, 0), unknown: s.total.unknown, quota, pct: quota ? enrollments / quota : null, perDay },
    backlog: {
      stations: s.units.reduce((a, u) => a + u.backlog.withBacklog, 0),
      records: s.units.reduce((a, u) => a + u.backlog.records, 0),
      noHealth: s.units.reduce((a, u) => a + u.backlog.noHealth, 0),
    },
    notes: s.notes, asOf: s.at,
  };
}

export function campaignSource(store: HqStoreApi): CampaignSource {
  const summary = async (id: string, level: string, now: number): Promise<CampaignSummary | null> => {
    try {
      return await campaignSummary(store, id, { level: level as UnitLevel, now });
    } catch (e) {
      if (e instanceof UnknownCampaignError) return null;
      throw e;
    }
  };
  return {
    list: async () => (await store.campaigns()).map((c) => ({ id: c.id, name: c.name, firstDay: c.first_day, lastDay: c.last_day })),
    summary: async (id, level, now) => {
      const s = await summary(id, level, now);
      return s ? pageSummary(s, (await store.campaignDays(id)).map((d) => d.day)) : null;
    },
    csv: async (id, level, now) => {
      const s = await summary(id, level, now);
      return s ? summaryCsv(s) : null;
    },
  };
}
