import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram as stationProgram } from '../../station/cli/main';
import { buildProgram as hqProgram } from '../../sync/hq/main';
import { leafCommands, renderCommandSections, renderCommandTable, STATION_COMMANDS_END, STATION_COMMANDS_START } from '../../station/cli/reference';
import { runCli, ROOT } from '../helpers/cli';

const README = join(ROOT, 'README.md');

describe('README command tables', () => {
  it('are the ones rendered from the real station and hq command trees (npm run docs:config -- --write)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(renderCommandSections(readme, stationProgram(), hqProgram()), 'README command tables are out of date: run `npm run docs:config -- --write`').toBe(readme);
  });

  it('name every runnable command and every visible option of both executables', () => {
    const readme = readFileSync(README, 'utf8');
    for (const [root, program] of [['station', stationProgram()], ['hq', hqProgram()]] as const) {
      const leaves = leafCommands(program);
      expect(leaves.length).toBeGreaterThan(8);
      for (const l of leaves) {
        const row = readme.split('\n').find((line) => line.startsWith(`| \`${[root, ...l.path].join(' ')}`));
        expect(row, `${root} ${l.path.join(' ')} has no row in README.md`).toBeDefined();
        for (const o of l.cmd.options.filter((x) => !x.hidden && x.long !== '--help')) expect(row).toContain(`\`${o.flags}\``);
      }
    }
    // the ones the issue found missing
    for (const c of ['station officer unlock <id>', 'station officer hash-pin', 'station fingerprint simulate', 'station card emulate']) expect(readme).toContain(`| \`${c}\``);
    expect(readme).toMatch(/\| `station doctor` \| `--json` `--offline`/);
  });

  it('drift is detected: a new option or command changes the rendered table', () => {
    const p = stationProgram();
    const before = renderCommandTable(p, STATION_COMMANDS_START, STATION_COMMANDS_END);
    p.commands.find((c) => c.name() === 'status')!.option('--since <time>', 'new');
    const withOption = renderCommandTable(p, STATION_COMMANDS_START, STATION_COMMANDS_END);
    expect(withOption).not.toBe(before);
    p.command('frobnicate').description('new').action(() => undefined);
    expect(renderCommandTable(p, STATION_COMMANDS_START, STATION_COMMANDS_END)).toContain('| `station frobnicate` | — | new |');
  });
});

describe('one flag per concept across station and hq', () => {
  const all = (): { exe: string; path: string; flags: string[] }[] =>
    ([['station', stationProgram()], ['hq', hqProgram()]] as const).flatMap(([exe, p]) =>
      leafCommands(p).map((l) => ({ exe, path: l.path.join(' '), flags: l.cmd.options.filter((o) => !o.hidden).map((o) => o.long ?? '') })));

  it('the simulator is --simulated everywhere (no backend named sim); data directories are --data-dir', () => {
    for (const c of all()) {
      expect(c.flags, `${c.exe} ${c.path}`).not.toContain('--data');
      expect(c.flags, `${c.exe} ${c.path}`).not.toContain('--sim');
    }
    const camera = all().find((c) => c.path === 'camera capture')!;
    expect(camera.flags).toContain('--simulated');
    const help = stationProgram().commands.find((c) => c.name() === 'camera')!.commands[0].helpInformation();
    expect(help).not.toMatch(/\bsim\b \|/);
  });

  it('durations are seconds: every --wait / --timeout / --ttl says <seconds>', () => {
    const progs = [stationProgram(), hqProgram()];
    const durations = progs.flatMap((p) => leafCommands(p).flatMap((l) => l.cmd.options.filter((o) => /^--(wait|timeout|ttl)$/.test(o.long ?? ''))));
    expect(durations.length).toBeGreaterThanOrEqual(5);
    for (const o of durations) expect(o.flags, o.flags).toMatch(/<seconds>$/);
  });

  it('subcommand help shows the global options (station and hq)', async () => {
    const s = await runCli(['officer', 'add', '--help']);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/Global Options:[\s\S]*-c, --config <file>/);
    const hqHelp = hqProgram().commands.find((c) => c.name() === 'cmd')!;
    let out = '';
    hqHelp.configureOutput({ writeOut: (x) => { out += x; } });
    hqHelp.outputHelp();
    expect(out).toMatch(/Global Options:[\s\S]*--ca <file>/);
  });
});
