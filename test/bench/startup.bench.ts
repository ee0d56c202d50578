/**
 * `npm run bench -- startup`: the compiled daemon on simulated devices, from process
 * start to READY, and its idle RSS after 10 s — next to the physical bound measured
 * in the same run: a bare node process that loads the same libraries and does
 * nothing else.
 *
 * "The same libraries" is what the daemon itself has loaded when it prints READY,
 * found by a first, unmeasured run: every file under node_modules that was
 * loaded by then, in the order its loading began — including the ones a
 * library loads lazily (mqtt.js loads its transports at the first connect). The
 * bare process requires exactly those files, so a library the daemon defers past
 * READY is left out of both, and one it loads is in both.
 *
 * Both run with the node flags of the systemd unit.
 * Goal: READY ≤ 1.5× the bare process, idle RSS ≤ 100 MB;
 * ratio = max((readyMs / bareReadyMs) / 1.5, rssMB / 100), goal 1.
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

/** Resident MB of the mappings whose file path matches (e.g. libvips, sharp's native part), from /proc/PID/smaps. */
function mappedRssMb(pid: number, match: RegExp): number {
  let kb = 0;
  let counting = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) { counting = match.test(head[1] ?? ''); continue; }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && counting) kb += Number(rss[1]);
  }
  return kb / 1024;
}

/** Spawns a node process, resolves with ms until it prints READY, and the pid. */
function startAndTime(args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; pid: number; output: () => string; stop: () => Promise<void> }> {
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
          output: () => out,
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

/**
 * Preloaded in the discovery run only: when the daemon prints READY, writes the node_modules
 * files in its module cache (in the order their loading began) to LIBS_OUT.
 */
const DISCOVER = `
const Module = require('module');
const fs = require('fs');
let done = false;
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = function (chunk, ...rest) {
  if (!done && /^READY/m.test(String(chunk))) {
    done = true;
    // the module cache in the order loading began; CommonJS packages reached by import() are in it too
    fs.writeFileSync(process.env.LIBS_OUT, JSON.stringify(Object.keys(Module._cache).filter((f) => f.includes('/node_modules/'))));
  }
  return write(chunk, ...rest);
};
`;

/** The bare process: node, the libraries the daemon had loaded at READY, and nothing else. */
function bareProgram(libs: string[]): string {
  return `${libs.map((f) => `require(${JSON.stringify(f)});`).join('\n')}
process.stdout.write('READY\\n');
setInterval(() => {}, 1000);
process.on('SIGTERM', () => process.exit(0));
`;
}

/** package name of a node_modules file (for the report). */
function packageOf(file: string): string {
  const rest = file.slice(file.lastIndexOf('/node_modules/') + '/node_modules/'.length).split('/');
  return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
}

export async function run(): Promise<void> {
  if (!existsSync(MAIN)) execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  // nothing listens at the broker address: the station must be READY offline
  const { dir, file: cfg } = await provisionedStation({ stationId: 'BENCH-1', brokerUrl: 'mqtt://127.0.0.1:9', logLevel: 'warn' });
  const flags = unitNodeFlags();
  console.error(`daemon node flags (from systemd/enroll-station.service): ${flags.join(' ') || '(none)'}`);

  // which libraries the daemon has loaded at READY (a run of its own, not measured)
  const discoverFile = join(dir, 'discover.js');
  const libsFile = join(dir, 'libs.json');
  writeFileSync(discoverFile, DISCOVER);
  const probe = await startAndTime([...flags, '--require', discoverFile, MAIN, '--debug', 'run', '--config', cfg], { STATION_PRINT_READY: '1', LIBS_OUT: libsFile });
  await probe.stop();
  // where the daemon's own start goes (the lifecycle logs each component's start at debug level)
  const componentMs: Record<string, number> = {};
  for (const line of probe.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const j = JSON.parse(line) as { msg?: string; component?: string; ms?: number };
      if (j.msg === 'started' && typeof j.ms === 'number' && j.component) componentMs[j.component] = j.ms;
    } catch { /* not a log line */ }
  }
  const slowest = Object.entries(componentMs).sort((a, b) => b[1] - a[1]).slice(0, 6);
  console.error(`component starts in the discovery run (ms): ${slowest.map(([c, ms]) => `${c} ${ms}`).join(', ')}`);
  const libs = JSON.parse(readFileSync(libsFile, 'utf8')) as string[];
  const packages = [...new Set(libs.map(packageOf))];
  console.error(`libraries the daemon has loaded at READY (${libs.length} files from ${packages.length} packages): ${packages.join(', ')}`);
  const bareFile = join(dir, 'bare.js');
  writeFileSync(bareFile, bareProgram(libs));

  const runs = 5;
  const daemonMs: number[] = [];
  const bareMs: number[] = [];
  const startMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const b = await startAndTime([...flags, bareFile], {});
    bareMs.push(b.ms);
    await b.stop();
    const d = await startAndTime([...flags, MAIN, 'run', '--config', cfg], { STATION_PRINT_READY: '1' });
    daemonMs.push(d.ms);
    // the daemon's READY line says how long its own start took (from runDaemon: config loaded, modules loaded)
    startMs.push(Number(/^READY ([\d.]+)ms/m.exec(d.output())?.[1] ?? NaN));
    await d.stop();
  }
  // idle RSS after 10 s, both side by side
  const d = await startAndTime([...flags, MAIN, 'run', '--config', cfg], { STATION_PRINT_READY: '1' });
  const b = await startAndTime([...flags, bareFile], {});
  await new Promise((r) => setTimeout(r, 10_000));
  const daemonRss = rssMb(d.pid);
  // sharp's libvips, if something loaded it by now (on simulated devices: the simulated card's chip image)
  const vipsMb = mappedRssMb(d.pid, /libvips|sharp/);
  const bareRss = rssMb(b.pid);
  await d.stop();
  await b.stop();
  rmSync(dir, { recursive: true, force: true });

  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const readyMs = med(daemonMs);
  const bareReadyMs = med(bareMs);
  console.error(`daemon READY median ${readyMs.toFixed(0)} ms (runs: ${daemonMs.map((x) => x.toFixed(0)).join(', ')}); bare node + the same libraries ${bareReadyMs.toFixed(0)} ms (runs: ${bareMs.map((x) => x.toFixed(0)).join(', ')})`);
  console.error(`idle RSS after 10 s: daemon ${daemonRss.toFixed(1)} MB (of which libvips/sharp mappings ${vipsMb.toFixed(1)} MB), bare ${bareRss.toFixed(1)} MB`);
  const readyVsBare = readyMs / bareReadyMs;
  const ownStartMs = med(startMs);
  // process start → READY = node + the libraries (the bare process) + the project's own modules and
  // configuration (the rest before runDaemon) + the start of the components (READY's own figure)
  const projectLoadMs = readyMs - ownStartMs - bareReadyMs;
  console.error(`of the daemon's ${readyMs.toFixed(0)} ms: node + libraries ≈ ${bareReadyMs.toFixed(0)} ms (the bare process), the project's modules + configuration ≈ ${projectLoadMs.toFixed(0)} ms, starting the components ${ownStartMs.toFixed(0)} ms`);
  const ratio = Math.max(readyVsBare / 1.5, daemonRss / 100);
  console.log(
    JSON.stringify({
      bench: 'startup',
      ratio: Number(ratio.toFixed(3)),
      goal: 1,
      better: 'lower',
      ratio_is: 'max((readyMs/bareReadyMs)/1.5, rssMB/100MB)',
      node_flags: flags.join(' '),
      ready_ms: Math.round(readyMs),
      bare_ready_ms: Math.round(bareReadyMs),
      ready_vs_bare: Number(readyVsBare.toFixed(2)),
      ready_vs_bare_goal: 1.5,
      project_load_ms: Math.round(projectLoadMs),
      components_start_ms: Math.round(ownStartMs),
      idle_rss_mb: Number(daemonRss.toFixed(1)),
      bare_rss_mb: Number(bareRss.toFixed(1)),
      rss_vs_bare: Number((daemonRss / bareRss).toFixed(2)),
      idle_rss_goal_mb: 100,
      idle_rss_vips_mb: Number(vipsMb.toFixed(1)),
      bare_packages: packages.length,
    }),
  );
}
