/**
 * `npm run bench -- startup`: the compiled daemon on simulated devices, from process
 * start to READY, and its idle RSS after 10 s — next to a bare node process that
 * loads the same libraries, measured in the same run.
 * Goal: READY ≤ 1 s and RSS ≤ 100 MB. ratio = max(readyMs / 1000, rssMB / 100).
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './paths';
import { provisionedStation } from '../helpers/station';

/** The node flags the systemd unit starts the daemon with: measure the daemon as deployed. */
function unitNodeFlags(): string[] {
  const unit = readFileSync(join(ROOT, 'systemd', 'enroll-station.service'), 'utf8');
  const line = unit.split('\n').find((l) => l.startsWith('ExecStart=')) ?? '';
  const argv = line.replace(/^ExecStart=/, '').trim().split(/\s+/);
  return argv.slice(1).filter((a, i, all) => a.startsWith('--') && all.slice(0, i).every((x) => x.startsWith('--')));
}
const MAIN = join(ROOT, 'dist', 'station', 'cli', 'main.js');

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Spawns a node process, resolves with ms until it prints READY, and the pid. */
function startAndTime(args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; pid: number; stop: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no READY within 20 s\n${out}\n${err}`));
    }, 20_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/^READY/m.test(out)) {
        clearTimeout(timer);
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        resolve({
          ms,
          pid: child.pid!,
          stop: () =>
            new Promise<void>((r) => {
              child.once('exit', () => r());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
            }),
        });
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!/^READY/m.test(out)) reject(new Error(`exited ${code} before READY\n${out}\n${err}`));
    });
  });
}

const BARE = `
const t=Date.now();
require('better-sqlite3'); require('mqtt'); require('sharp'); require('pino'); require('serialport');
require('@hpke/core'); require('@hpke/chacha20poly1305'); require('@hpke/dhkem-x25519'); require('yaml'); require('ajv'); require('commander');
process.stdout.write('READY\\n');
setInterval(()=>{}, 1000);
process.on('SIGTERM', ()=>process.exit(0));
`;

export async function run(): Promise<void> {
  if (!existsSync(MAIN)) execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  // nothing listens at the broker address: the station must be READY offline
  const { dir, file: cfg } = await provisionedStation({ stationId: 'BENCH-1', brokerUrl: 'mqtt://127.0.0.1:9', logLevel: 'warn' });
  const bareFile = join(dir, 'bare.js');
  writeFileSync(bareFile, BARE);

  const flags = unitNodeFlags();
  console.error(`daemon node flags (from systemd/enroll-station.service): ${flags.join(' ') || '(none)'}`);
  const runs = 5;
  const daemonMs: number[] = [];
  const bareMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const b = await startAndTime([bareFile], { NODE_PATH: join(ROOT, 'node_modules') });
    bareMs.push(b.ms);
    await b.stop();
    const d = await startAndTime([...flags, MAIN, 'run', '--config', cfg], { STATION_PRINT_READY: '1' });
    daemonMs.push(d.ms);
    await d.stop();
  }
  // idle RSS after 10 s, both side by side
  const d = await startAndTime([...flags, MAIN, 'run', '--config', cfg], { STATION_PRINT_READY: '1' });
  const b = await startAndTime([bareFile], { NODE_PATH: join(ROOT, 'node_modules') });
  await new Promise((r) => setTimeout(r, 10_000));
  const daemonRss = rssMb(d.pid);
  const bareRss = rssMb(b.pid);
  await d.stop();
  await b.stop();
  rmSync(dir, { recursive: true, force: true });

  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const readyMs = med(daemonMs);
  const bareReadyMs = med(bareMs);
  console.error(`daemon READY median ${readyMs.toFixed(0)} ms (runs: ${daemonMs.map((x) => x.toFixed(0)).join(', ')}); bare node + same libraries ${bareReadyMs.toFixed(0)} ms`);
  console.error(`idle RSS after 10 s: daemon ${daemonRss.toFixed(1)} MB, bare ${bareRss.toFixed(1)} MB`);
  const ratio = Math.max(readyMs / 1000, daemonRss / 100);
  console.log(
    JSON.stringify({
      bench: 'startup',
      ratio: Number(ratio.toFixed(3)),
      goal: 1,
      better: 'lower',
      ratio_is: 'max(readyMs/1000ms, rssMB/100MB)',
      node_flags: flags.join(' '),
      ready_ms: Math.round(readyMs),
      bare_ready_ms: Math.round(bareReadyMs),
      ready_vs_bare: Number((readyMs / bareReadyMs).toFixed(2)),
      idle_rss_mb: Number(daemonRss.toFixed(1)),
      bare_rss_mb: Number(bareRss.toFixed(1)),
      rss_vs_bare: Number((daemonRss / bareRss).toFixed(2)),
    }),
  );
}
