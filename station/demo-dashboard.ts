/**
 * The demo's ops dashboard (#20): `hq dashboard` on the demo's embedded headquarters, with a
 * signer in the same process (production runs `hq signer` under its own account, which alone
 * holds the ops key — the demo relaxes that and says so), two demo accounts and a 60-day demo
 * campaign over the demo booth's ward, so that what an officer enrolls at the kiosk shows up in
 * the campaign figures.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { loadSigningGenerations } from '../sync/wire/keys';
import { SqliteHqStore } from '../sync/hq/store-api';
import type { HqStore } from '../sync/hq/store';
import { campaignDayBounds, dayOf, DEFAULT_TIME_ZONE, nextDay } from '../sync/hq/campaign';
import { accountsPath, addAccount, readAccounts } from '../sync/hq/dashboard/accounts';
import { LiveFleet } from '../sync/hq/dashboard/live';
import { startDashboard } from '../sync/hq/dashboard/server';
import { campaignSource } from '../sync/hq/dashboard/campaigns';
import { socketSigner, startSigner } from '../sync/hq/dashboard/signer';

export const DEMO_DASHBOARD_ACCOUNTS = [
  { name: 'ops', role: 'operator', password: 'demo-ops-pass' },
  { name: 'viewer', role: 'viewer', password: 'demo-viewer-pass' },
] as const;

export interface DemoDashboard { url: string; close(): Promise<void> }

export async function startDemoDashboard(o: { hqDir: string; keysDir: string; store: HqStore; brokerUrl: string; port: number; unit: { code: string; name: string; district: string }; logger: Logger }): Promise<DemoDashboard> {
  const store = new SqliteHqStore(o.store, join(o.hqDir, 'hq.db'));
  const accounts = accountsPath(o.hqDir);
  const have = existsSync(accounts) ? readAccounts(accounts) : {};
  for (const a of DEMO_DASHBOARD_ACCOUNTS) if (!have[a.name]) await addAccount(accounts, a.name, a.role, a.password);
  if ((await store.campaigns()).length === 0) {
    const first = dayOf(Date.now(), DEFAULT_TIME_ZONE);
    let last = first;
    for (let i = 0; i < 59; i++) last = nextDay(last);
    await store.importUnits([
      { code: 'DEMO-TP', name: 'Thành phố Demo', parent: null, level: 'city' },
      { code: 'DEMO-Q', name: o.unit.district, parent: 'DEMO-TP', level: 'district' },
      { code: o.unit.code, name: o.unit.name, parent: 'DEMO-Q', level: 'ward' },
    ]);
    await store.createCampaign({ id: 'demo-60', name: 'Chiến dịch 60 ngày đêm (demo)', first_day: first, last_day: last, time_zone: DEFAULT_TIME_ZONE }, campaignDayBounds(first, last, DEFAULT_TIME_ZONE));
    await store.setQuota('demo-60', { unit: o.unit.code, enrollments: 2400, activations: 600 });
  }
  const ops = loadSigningGenerations(o.keysDir, 'ops');
  const signer = await startSigner({ socketPath: join(o.hqDir, 'signer.sock'), opsKey: ops[ops.length - 1]!.privateKey, logger: o.logger });
  o.logger.warn({ hq: true }, 'demo: the dashboard\'s command signer runs in this process with the ops key; production runs `hq signer` as its own user (docs/dashboard.md)');
  const mqtt = { protocolVersion: 4 as const };
  const live = new LiveFleet({ brokerUrl: o.brokerUrl, mqtt, store, logger: o.logger });
  await live.start();
  const dash = await startDashboard({
    host: '127.0.0.1', port: o.port, store, accountsFile: accounts, live, campaigns: campaignSource(store), logger: o.logger,
    signer: socketSigner(signer.socketPath), broker: { url: o.brokerUrl, mqtt }, commandWaitMs: 30_000,
  });
  return {
    url: dash.url,
    close: async () => { await dash.close(); await live.stop(); await signer.close(); },
  };
}
