/**
 * Campaign figures (#20 item 3 and 6, docs/campaigns.md): what headquarters STORED, per unit
 * (ward → district → city) and campaign day, against the quotas of the campaign — for `hq campaign
 * report` and the dashboard's campaign view. Everything here reads through HqStoreApi, so it is the
 * same on SQLite and PostgreSQL.
 *
 * A record counts on the campaign day (in the campaign's time zone) in which it was completed — by
 * headquarters' time when the booth had it, else the booth's clock — under the unit its station had
 * when the record was stored. Records stored before headquarters kept the kind (schema 6) count as
 * kind "unknown", on the day they were sealed and under the unit their station had at the upgrade.
 */
import type { CampaignDayRow, CampaignRow, DayCountRow, HqStoreApi, QuotaRow, StationHealthRow, UnitRow } from './store-api';

export const UNIT_LEVELS = ['ward', 'district', 'city'] as const;
export type UnitLevel = (typeof UNIT_LEVELS)[number];
export const DEFAULT_TIME_ZONE = 'Asia/Ho_Chi_Minh';
/** Longest campaign (days): a year and a day. */
export const MAX_CAMPAIGN_DAYS = 366;

export const isUnitLevel = (v: unknown): v is UnitLevel => typeof v === 'string' && (UNIT_LEVELS as readonly string[]).includes(v);

// ───────────────────────── days in a time zone ─────────────────────────

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Whether `s` is a real calendar day written YYYY-MM-DD. */
export function isDay(s: string): boolean {
  const m = DAY_RE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === s;
}

/** Whether the runtime knows this IANA time zone. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const fmtCache = new Map<string, Intl.DateTimeFormat>();
function fmt(tz: string): Intl.DateTimeFormat {
  let f = fmtCache.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    fmtCache.set(tz, f);
  }
  return f;
}

function wallClock(t: number, tz: string): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const p: Record<string, number> = {};
  for (const x of fmt(tz).formatToParts(t)) if (x.type !== 'literal') p[x.type] = Number(x.value);
  return { y: p.year!, mo: p.month!, d: p.day!, h: p.hour!, mi: p.minute!, s: p.second! };
}

/** The zone's offset from UTC at instant t (ms, local − UTC). */
function offsetAt(t: number, tz: string): number {
  const w = wallClock(t, tz);
  return Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s) - Math.floor(t / 1000) * 1000;
}

/** The day (YYYY-MM-DD) instant t falls in, in time zone tz. */
export function dayOf(t: number, tz: string): string {
  const w = wallClock(t, tz);
  return `${String(w.y).padStart(4, '0')}-${String(w.mo).padStart(2, '0')}-${String(w.d).padStart(2, '0')}`;
}

/** The first instant of a day in time zone tz (local midnight, or the first local time after it on a DST gap). */
export function startOfDay(day: string, tz: string): number {
  const [y, mo, d] = day.split('-').map(Number) as [number, number, number];
  const guess = Date.UTC(y, mo - 1, d);
  let t = guess - offsetAt(guess, tz);
  const again = guess - offsetAt(t, tz);
  if (again !== t) t = again;
  // a gap at midnight (DST starting at 00:00): step to the first instant that belongs to the day
  while (dayOf(t, tz) < day) t += 15 * 60_000;
  while (dayOf(t - 1, tz) === day) t -= 15 * 60_000;
  return t;
}

/** The next calendar day. */
export function nextDay(day: string): string {
  const [y, mo, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, mo - 1, d + 1)).toISOString().slice(0, 10);
}

/** Every day of [first, last] with its bounds [start_at, end_at) in time zone tz. */
export function campaignDayBounds(first: string, last: string, tz: string): CampaignDayRow[] {
  const out: CampaignDayRow[] = [];
  let start = startOfDay(first, tz);
  for (let d = first; d <= last; d = nextDay(d)) {
    const n = nextDay(d);
    const end = startOfDay(n, tz);
    out.push({ day: d, start_at: start, end_at: end });
    start = end;
    if (out.length > MAX_CAMPAIGN_DAYS) break;
  }
  return out;
}

/** Why a campaign definition is not acceptable, or null. */
export function campaignProblem(c: { id: string; name: string; first_day: string; last_day: string; time_zone: string }): string | null {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(c.id)) return `campaign id "${c.id}" must be 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit`;
  if (!c.name.trim()) return 'the campaign name is empty';
  if (!isDay(c.first_day)) return `first day "${c.first_day}" is not a calendar day written YYYY-MM-DD`;
  if (!isDay(c.last_day)) return `last day "${c.last_day}" is not a calendar day written YYYY-MM-DD`;
  if (c.last_day < c.first_day) return `the last day ${c.last_day} is before the first day ${c.first_day}`;
  if (!isTimeZone(c.time_zone)) return `time zone "${c.time_zone}" is not an IANA time zone this system knows (e.g. ${DEFAULT_TIME_ZONE})`;
  const n = campaignDayBounds(c.first_day, c.last_day, c.time_zone).length;
  if (n > MAX_CAMPAIGN_DAYS) return `the campaign lasts more than ${MAX_CAMPAIGN_DAYS} days`;
  return null;
}

// ───────────────────────── units from CSV ─────────────────────────

export interface UnitImport {
  units: UnitRow[];
  quotas: QuotaRow[];
}

/** A bad row of a units file: the line it is on and what is wrong. */
export interface UnitFileProblem {
  line: number;
  problem: string;
}

/** Splits RFC 4180 CSV text into records of fields, each with the line it starts on. */
export function parseCsv(text: string): { line: number; fields: string[] }[] | { line: number; problem: string } {
  const out: { line: number; fields: string[] }[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const start = line;
    const fields: string[] = [];
    for (;;) {
      let f = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) return { line: start, problem: 'a quoted field is not closed' };
          const ch = text[i]!;
          if (ch === '"') {
            if (text[i + 1] === '"') { f += '"'; i += 2; continue; }
            i++;
            break;
          }
          if (ch === '\n') line++;
          f += ch;
          i++;
        }
        if (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') return { line, problem: 'text after a closing quote (write "" for a quote inside a quoted field)' };
      } else {
        while (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          if (text[i] === '"') return { line, problem: 'a quote inside an unquoted field (quote the whole field and write "" for the quote)' };
          f += text[i];
          i++;
        }
      }
      fields.push(f);
      if (text[i] === ',') { i++; continue; }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') { i++; line++; }
    if (!(fields.length === 1 && fields[0] === '')) out.push({ line: start, fields });
  }
  return out;
}

const UNIT_CODE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const HEADER = ['code', 'name', 'parent', 'level'];

function quotaField(v: string | undefined, what: string): number | null | string {
  if (v === undefined || v.trim() === '') return null;
  const t = v.trim();
  if (!/^\d{1,9}$/.test(t)) return `${what} "${v}" is not a whole number ≥ 0`;
  return Number(t);
}

/**
 * Reads a units file: `code,name,parent,level[,quotaEnrollments,quotaActivations]`, an optional header
 * line of those names, UTF-8 (a BOM is fine). Every problem is listed with its line; the file is
 * accepted only without any. `known` are the units already stored (a parent may be one of them).
 */
export function parseUnitsCsv(text: string, known: UnitRow[] = []): UnitImport | { problems: UnitFileProblem[] } {
  const parsed = parseCsv(text);
  if (!Array.isArray(parsed)) return { problems: [parsed] };
  const problems: UnitFileProblem[] = [];
  const rows = parsed.slice();
  if (rows[0] && rows[0].fields.slice(0, 4).map((x) => x.trim().toLowerCase()).join(',') === HEADER.join(',')) rows.shift();
  if (rows.length === 0) return { problems: [{ line: 1, problem: 'no units in the file (one line per unit: code,name,parent,level[,quotaEnrollments,quotaActivations])' }] };
  const units: UnitRow[] = [];
  const quotas: QuotaRow[] = [];
  const lineOf = new Map<string, number>();
  for (const { line, fields } of rows) {
    if (fields.length !== 4 && fields.length !== 6) {
      problems.push({ line, problem: `${fields.length} field(s); a unit line has 4 (code,name,parent,level) or 6 (…,quotaEnrollments,quotaActivations)` });
      continue;
    }
    const [code, name, parent, level, qe, qa] = fields.map((x) => x.trim()) as [string, string, string, string, string?, string?];
    const bad: string[] = [];
    if (!UNIT_CODE_RE.test(code)) bad.push(`code "${code}" must be 1–64 letters, digits, ".", "_" or "-"`);
    else if (lineOf.has(code)) bad.push(`code ${code} is already on line ${lineOf.get(code)}`);
    if (!name) bad.push('the name is empty');
    if (!isUnitLevel(level)) bad.push(`level "${level}" is not one of ${UNIT_LEVELS.join(', ')}`);
    if (parent && parent === code) bad.push('a unit cannot be its own parent');
    const e = quotaField(qe, 'quotaEnrollments');
    const a = quotaField(qa, 'quotaActivations');
    if (typeof e === 'string') bad.push(e);
    if (typeof a === 'string') bad.push(a);
    if (bad.length) { problems.push({ line, problem: bad.join('; ') }); continue; }
    lineOf.set(code, line);
    units.push({ code, name: name.normalize('NFC'), parent: parent || null, level });
    if (fields.length === 6) quotas.push({ unit: code, enrollments: e as number | null, activations: a as number | null });
  }
  // the hierarchy: each parent exists (in the file or already stored) and is of a higher level
  const all = new Map(known.map((u) => [u.code, u]));
  for (const u of units) all.set(u.code, u);
  for (const u of units) {
    const line = lineOf.get(u.code)!;
    const rank = UNIT_LEVELS.indexOf(u.level as UnitLevel);
    if (u.parent === null) {
      if (u.level !== 'city') problems.push({ line, problem: `${u.code} is a ${u.level} without a parent (only a city has none)` });
      continue;
    }
    const p = all.get(u.parent);
    if (!p) { problems.push({ line, problem: `parent ${u.parent} of ${u.code} is neither in the file nor stored` }); continue; }
    if (UNIT_LEVELS.indexOf(p.level as UnitLevel) <= rank) problems.push({ line, problem: `parent ${u.parent} of ${u.code} is a ${p.level}; the parent of a ${u.level} must be ${UNIT_LEVELS.slice(rank + 1).join(' or ')}` });
  }
  if (problems.length) return { problems: problems.sort((x, y) => x.line - y.line) };
  return { units, quotas };
}

// ───────────────────────── figures ─────────────────────────

export interface Counts {
  enrollments: number;
  activations: number;
  /** Stored before headquarters kept a record's kind (or from a validator that did not say). */
  unknown: number;
}

export interface DayFigures extends Counts {
  day: string;
  cumEnrollments: number;
  cumActivations: number;
  /** Cumulative % of the quota (one decimal), null without a quota. */
  pctEnrollments: number | null;
  pctActivations: number | null;
}

export interface StationBacklog {
  stationId: string;
  /** The station's unit now (a ward, under the unit the list belongs to). */
  unit: string | null;
  /** Records the booth holds that headquarters has not receipted (its last health), null: no health yet. */
  backlog: number | null;
  oldestAgeMs: number | null;
  healthAt: number | null;
}

export interface UnitBacklog {
  stations: number;
  /** Stations whose last health shows records not yet receipted. */
  withBacklog: number;
  records: number;
  oldestAgeMs: number | null;
  /** Stations that never sent health: their backlog is not known. */
  noHealth: number;
  /** The stations (of this unit and the units under it) with a backlog or no health. */
  list: StationBacklog[];
}

export interface UnitFigures {
  code: string;
  name: string;
  level: string;
  parent: string | null;
  quota: { enrollments: number | null; activations: number | null };
  /** On the report's day. */
  today: Counts;
  /** From the first day through the report's day. */
  total: Counts;
  pct: { enrollments: number | null; activations: number | null };
  series: DayFigures[];
  backlog: UnitBacklog;
}

export interface CampaignSummary {
  campaign: CampaignRow;
  level: UnitLevel | 'all';
  /** The report's day: the given day, else today in the campaign's time zone (within the campaign). */
  day: string;
  /** The campaign days through the report's day. */
  days: string[];
  units: UnitFigures[];
  /** Records counted (every unit), through the report's day. */
  total: Counts;
  /** Records of stations whose unit is not in the hierarchy (code, or null: the station has no unit). */
  unplaced: { unit: string | null; total: Counts }[];
  /** Sentences a reader must see with the figures (unknown kinds, backlog, campaign not started…). */
  notes: string[];
  at: number;
}

const zero = (): Counts => ({ enrollments: 0, activations: 0, unknown: 0 });
const pct = (n: number, q: number | null): number | null => (q ? Math.round((n / q) * 1000) / 10 : null);
function add(c: Counts, kind: string | null, n: number): void {
  if (kind === 'enrollment') c.enrollments += n;
  else if (kind === 'eid-activation') c.activations += n;
  else c.unknown += n;
}

/** A campaign that does not exist (the CLI turns it into a usage error naming the known ones). */
export class UnknownCampaignError extends Error {
  constructor(readonly id: string, readonly known: string[]) {
    super(`there is no campaign "${id}"`);
    this.name = 'UnknownCampaignError';
  }
}

/** A report day outside the campaign. */
export class DayOutsideCampaignError extends Error {
  constructor(readonly day: string, readonly c: CampaignRow) {
    super(`day ${day} is not in campaign ${c.id} (${c.first_day} … ${c.last_day})`);
    this.name = 'DayOutsideCampaignError';
  }
}

/** Each unit's effective quota: its own, else the sum of its children's (when any has one). */
function effectiveQuotas(units: UnitRow[], quotas: QuotaRow[]): Map<string, { enrollments: number | null; activations: number | null }> {
  const own = new Map(quotas.map((q) => [q.unit, q]));
  const children = new Map<string, string[]>();
  for (const u of units) if (u.parent) (children.get(u.parent) ?? children.set(u.parent, []).get(u.parent)!).push(u.code);
  const out = new Map<string, { enrollments: number | null; activations: number | null }>();
  const visit = (code: string, depth: number): { enrollments: number | null; activations: number | null } => {
    const done = out.get(code);
    if (done) return done;
    const o = own.get(code);
    let e = o?.enrollments ?? null;
    let a = o?.activations ?? null;
    if ((e === null || a === null) && depth < 8) {
      let se: number | null = null;
      let sa: number | null = null;
      for (const c of children.get(code) ?? []) {
        const q = visit(c, depth + 1);
        if (q.enrollments !== null) se = (se ?? 0) + q.enrollments;
        if (q.activations !== null) sa = (sa ?? 0) + q.activations;
      }
      if (e === null) e = se;
      if (a === null) a = sa;
    }
    const r = { enrollments: e, activations: a };
    out.set(code, r);
    return r;
  };
  for (const u of units) visit(u.code, 0);
  return out;
}

/** A unit and the units above it (guarded against a loop in the data). */
function chain(code: string, byCode: Map<string, UnitRow>): string[] {
  const out: string[] = [];
  let c: string | null = code;
  while (c !== null && byCode.has(c) && !out.includes(c) && out.length < 8) {
    out.push(c);
    c = byCode.get(c)!.parent;
  }
  return out;
}

function parseBacklog(r: StationHealthRow): StationBacklog {
  let backlog: number | null = null;
  let oldest: number | null = null;
  if (r.health) {
    try {
      const h = JSON.parse(r.health) as { backlog?: { count?: unknown; oldestAgeMs?: unknown } };
      if (typeof h.backlog?.count === 'number') backlog = h.backlog.count;
      if (typeof h.backlog?.oldestAgeMs === 'number') oldest = h.backlog.oldestAgeMs;
    } catch { /* unreadable health: backlog unknown */ }
  }
  return { stationId: r.station_id, unit: r.unit, backlog, oldestAgeMs: oldest, healthAt: r.health_at === null ? null : Number(r.health_at) };
}

export interface SummaryOptions {
  /** Units of this level (default ward), or all. */
  level?: UnitLevel | 'all';
  /** The report's day (YYYY-MM-DD); default today in the campaign's time zone, kept within the campaign. */
  day?: string;
  now?: number;
}

/** The campaign's figures per unit and day, with roll-ups, quotas and backlog (see the file comment). */
export async function campaignSummary(store: HqStoreApi, id: string, o: SummaryOptions = {}): Promise<CampaignSummary> {
  const now = o.now ?? Date.now();
  const c = await store.campaign(id);
  if (!c) throw new UnknownCampaignError(id, (await store.campaigns()).map((x) => x.id));
  const today = dayOf(now, c.time_zone);
  if (o.day !== undefined && (o.day < c.first_day || o.day > c.last_day || !isDay(o.day))) throw new DayOutsideCampaignError(o.day, c);
  const day = o.day ?? (today < c.first_day ? c.first_day : today > c.last_day ? c.last_day : today);
  const level = o.level ?? 'ward';
  const [allDays, units, quotas, counts, health] = await Promise.all([
    store.campaignDays(id), store.units(), store.quotas(id), store.campaignDayCounts(id, day), store.stationHealth(),
  ]);
  const days = allDays.map((d) => d.day).filter((d) => d <= day);
  const dayIndex = new Map(days.map((d, i) => [d, i]));
  const byCode = new Map(units.map((u) => [u.code, u]));
  const q = effectiveQuotas(units, quotas);
  // per unit, per day counts (rolled up to every unit above)
  const perDay = new Map<string, Counts[]>();
  const series = (code: string): Counts[] => {
    let s = perDay.get(code);
    if (!s) { s = days.map(zero); perDay.set(code, s); }
    return s;
  };
  const unplaced = new Map<string | null, Counts>();
  const total = zero();
  for (const r of counts as DayCountRow[]) {
    const i = dayIndex.get(r.day);
    if (i === undefined) continue;
    const n = Number(r.n);
    add(total, r.kind, n);
    const up = r.unit !== null ? chain(r.unit, byCode) : [];
    if (up.length === 0) {
      const u = unplaced.get(r.unit) ?? unplaced.set(r.unit, zero()).get(r.unit)!;
      add(u, r.kind, n);
      continue;
    }
    for (const code of up) add(series(code)[i]!, r.kind, n);
  }
  // backlog per unit (the stations' units now, rolled up)
  const backlogs = new Map<string, UnitBacklog>();
  const blOf = (code: string): UnitBacklog => backlogs.get(code) ?? backlogs.set(code, { stations: 0, withBacklog: 0, records: 0, oldestAgeMs: null, noHealth: 0, list: [] }).get(code)!;
  let stationsWithBacklog = 0;
  let backlogRecords = 0;
  let noHealth = 0;
  for (const r of health) {
    const b = parseBacklog(r);
    if (b.backlog === null) noHealth++;
    else if (b.backlog > 0) { stationsWithBacklog++; backlogRecords += b.backlog; }
    for (const code of r.unit ? chain(r.unit, byCode) : []) {
      const u = blOf(code);
      u.stations++;
      if (b.backlog === null) u.noHealth++;
      else if (b.backlog > 0) {
        u.withBacklog++;
        u.records += b.backlog;
        if (b.oldestAgeMs !== null) u.oldestAgeMs = Math.max(u.oldestAgeMs ?? 0, b.oldestAgeMs);
      }
      if (b.backlog === null || b.backlog > 0) u.list.push(b);
    }
  }
  const figures: UnitFigures[] = [];
  for (const u of units) {
    if (level !== 'all' && u.level !== level) continue;
    const quota = q.get(u.code) ?? { enrollments: null, activations: null };
    const s = perDay.get(u.code) ?? days.map(zero);
    let ce = 0;
    let ca = 0;
    const tot = zero();
    const ser: DayFigures[] = s.map((x, i) => {
      ce += x.enrollments; ca += x.activations;
      tot.enrollments += x.enrollments; tot.activations += x.activations; tot.unknown += x.unknown;
      return { day: days[i]!, ...x, cumEnrollments: ce, cumActivations: ca, pctEnrollments: pct(ce, quota.enrollments), pctActivations: pct(ca, quota.activations) };
    });
    figures.push({
      code: u.code, name: u.name, level: u.level, parent: u.parent, quota,
      today: s.length ? { ...s[s.length - 1]! } : zero(), total: tot,
      pct: { enrollments: pct(tot.enrollments, quota.enrollments), activations: pct(tot.activations, quota.activations) },
      series: ser, backlog: backlogs.get(u.code) ?? { stations: 0, withBacklog: 0, records: 0, oldestAgeMs: null, noHealth: 0, list: [] },
    });
  }
  const notes: string[] = [];
  if (today < c.first_day) notes.push(`the campaign starts on ${c.first_day}; nothing is counted yet`);
  if (day === today && day <= c.last_day) notes.push(`${day} is today in ${c.time_zone}: its figures grow until the day ends`);
  if (stationsWithBacklog) notes.push(`${stationsWithBacklog} station(s) hold ${backlogRecords} record(s) not yet received by headquarters (their last health): the figures will still change`);
  if (noHealth) notes.push(`${noHealth} registered station(s) never sent health: whether they hold unsent records is not known`);
  if (total.unknown) notes.push(`${total.unknown} record(s) stored before headquarters kept each record's kind are counted as kind "unknown" (not as enrollments or activations), on the day they were sealed`);
  const unplacedList = [...unplaced.entries()].map(([unit, t]) => ({ unit, total: t }));
  if (unplacedList.length) notes.push(`${unplacedList.reduce((n, x) => n + x.total.enrollments + x.total.activations + x.total.unknown, 0)} record(s) come from stations whose unit is not in the hierarchy (${unplacedList.map((x) => x.unit ?? '(no unit)').join(', ')}): import those units (hq campaign units import)`);
  return { campaign: c, level, day, days, units: figures, total, unplaced: unplacedList, notes, at: now };
}

/** Units ranked by % of their quota (highest first; units without a quota last, then by code). */
export function rankByQuota(s: CampaignSummary, metric: 'enrollments' | 'activations' = 'enrollments'): UnitFigures[] {
  return [...s.units].sort((a, b) => {
    const x = a.pct[metric];
    const y = b.pct[metric];
    if (x === null || y === null) return x === y ? a.code.localeCompare(b.code) : x === null ? 1 : -1;
    return y - x || b.total[metric] - a.total[metric] || a.code.localeCompare(b.code);
  });
}

/** Units × days of the chosen count (per day, not cumulative). */
export function heatTable(s: CampaignSummary, metric: 'enrollments' | 'activations' = 'enrollments'): { days: string[]; rows: { code: string; name: string; cells: number[]; max: number }[] } {
  const rows = s.units.map((u) => {
    const cells = u.series.map((d) => d[metric]);
    return { code: u.code, name: u.name, cells, max: Math.max(0, ...cells) };
  });
  return { days: s.days, rows };
}

/** The units whose stations hold unsent records (or never sent health), most records first. */
export function backlogByUnit(s: CampaignSummary): { code: string; name: string; backlog: UnitBacklog }[] {
  return s.units.filter((u) => u.backlog.withBacklog > 0 || u.backlog.noHealth > 0)
    .map((u) => ({ code: u.code, name: u.name, backlog: u.backlog }))
    .sort((a, b) => b.backlog.records - a.backlog.records || a.code.localeCompare(b.code));
}

// ───────────────────────── output ─────────────────────────

/** The CSV's columns, in order (docs/campaigns.md describes each). */
export const CSV_COLUMNS = [
  'campaign', 'day', 'level', 'unit_code', 'unit_name', 'parent_code',
  'enrollments', 'activations', 'unknown_kind',
  'enrollments_cumulative', 'activations_cumulative',
  'quota_enrollments', 'quota_activations', 'enrollments_pct_of_quota', 'activations_pct_of_quota',
  'stations', 'stations_with_backlog', 'backlog_records', 'stations_without_health',
] as const;

/** One field, quoted when RFC 4180 needs it. */
export function csvField(v: string | number | null): string {
  const s = v === null ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The summary as CSV: a BOM (so Excel reads UTF-8), a header, one row per unit per day, CRLF line ends. */
export function summaryCsv(s: CampaignSummary): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const u of s.units) {
    for (const d of u.series) {
      lines.push([
        s.campaign.id, d.day, u.level, u.code, u.name, u.parent,
        d.enrollments, d.activations, d.unknown, d.cumEnrollments, d.cumActivations,
        u.quota.enrollments, u.quota.activations, d.pctEnrollments, d.pctActivations,
        u.backlog.stations, u.backlog.withBacklog, u.backlog.records, u.backlog.noHealth,
      ].map(csvField).join(','));
    }
  }
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}

const pctText = (p: number | null): string => (p === null ? '-' : `${p.toFixed(1)}%`);

function table(rows: string[][]): string[] {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...r[i]!].length)));
  return rows.map((r) => r.map((c, i) => (i >= 2 ? c.padStart(w[i]!) : c + ' '.repeat(w[i]! - [...c].length))).join('  ').trimEnd());
}

/** The report as text: the chosen level's units on the report's day and cumulative, then their backlog. */
export function summaryText(s: CampaignSummary): string {
  const c = s.campaign;
  const out = [`campaign ${c.id} — ${c.name} (${c.first_day} … ${c.last_day}, days in ${c.time_zone}); figures through ${s.day}, as stored by headquarters`];
  if (s.units.length === 0) out.push(`no units of level ${s.level} are defined: hq campaign units import ${c.id} FILE`);
  else {
    const rows = [['UNIT', 'NAME', 'ENR TODAY', 'ENR TOTAL', 'ENR QUOTA', 'ENR %', 'ACT TODAY', 'ACT TOTAL', 'ACT QUOTA', 'ACT %', 'UNKNOWN', 'BACKLOG']];
    for (const u of s.units) {
      rows.push([
        u.code, u.name, String(u.today.enrollments), String(u.total.enrollments), u.quota.enrollments === null ? '-' : String(u.quota.enrollments), pctText(u.pct.enrollments),
        String(u.today.activations), String(u.total.activations), u.quota.activations === null ? '-' : String(u.quota.activations), pctText(u.pct.activations),
        String(u.total.unknown), u.backlog.withBacklog || u.backlog.noHealth ? `${u.backlog.records} in ${u.backlog.withBacklog} st.${u.backlog.noHealth ? ` +${u.backlog.noHealth} no health` : ''}` : '-',
      ]);
    }
    out.push('', ...table(rows));
  }
  const bl = s.units.filter((u) => u.backlog.list.length);
  if (bl.length) {
    out.push('', 'stations with records not yet at headquarters (last health):');
    for (const u of bl) {
      for (const b of u.backlog.list) {
        out.push(`  ${b.unit ?? u.code}  ${b.stationId}  ${b.backlog === null ? 'no health received' : `${b.backlog} record(s)${b.oldestAgeMs !== null ? `, oldest ${Math.round(b.oldestAgeMs / 60_000)} min` : ''}, health at ${b.healthAt ? new Date(b.healthAt).toISOString() : '-'}`}`);
      }
    }
  }
  out.push('', `all units: ${s.total.enrollments} enrollment(s), ${s.total.activations} e-ID activation(s), ${s.total.unknown} of unknown kind`);
  for (const n of s.notes) out.push(`note: ${n}`);
  return out.join('\n');
}
