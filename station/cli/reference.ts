/**
 * The README's command tables, rendered from the real commander trees of `station`
 * and `hq` (so a command, an option or a description cannot be added, renamed or
 * dropped without the README following). `npm run docs:config -- --write` rewrites
 * the sections between the markers; test/station/cli-reference.test.ts fails when
 * the README and the trees drift.
 */
import type { Command, Option } from 'commander';

export const STATION_COMMANDS_START = '<!-- station-commands:start (generated from the command tree by `npm run docs:config -- --write`; do not edit) -->';
export const STATION_COMMANDS_END = '<!-- station-commands:end -->';
export const HQ_COMMANDS_START = '<!-- hq-commands:start (generated from the command tree by `npm run docs:config -- --write`; do not edit) -->';
export const HQ_COMMANDS_END = '<!-- hq-commands:end -->';

/** A command that runs something (not a group that only holds subcommands), with its full path. */
export interface LeafCommand { path: string[]; cmd: Command }

export function leafCommands(program: Command, prefix: string[] = []): LeafCommand[] {
  return program.commands.flatMap((c) => {
    const path = [...prefix, c.name()];
    return c.commands.length ? leafCommands(c, path) : [{ path, cmd: c }];
  });
}

const visible = (o: Option): boolean => !o.hidden && o.long !== '--help';
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function usage(root: string, { path, cmd }: LeafCommand): string {
  const args = cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`));
  return [root, ...path, ...args].join(' ');
}

function optionList(cmd: Command): string {
  return cmd.options.filter(visible).map((o) => `\`${o.flags}\``).join(' ');
}

/** The table of one executable: global options first, then every runnable command. */
export function renderCommandTable(program: Command, start: string, end: string): string {
  const root = program.name();
  const rows = leafCommands(program).map((l) => `| \`${cell(usage(root, l))}\` | ${cell(optionList(l.cmd)) || '—'} | ${cell(l.cmd.description())} |`);
  const globals = program.options.filter((o) => visible(o)).map((o) => `\`${o.flags}\` (${cell(o.description)})`).join('; ');
  return [
    start,
    '',
    `Global options (before or after the command): ${globals}.`,
    '',
    '| command | options | what |',
    '|---|---|---|',
    ...rows,
    '',
    end,
  ].join('\n');
}

function replaceSection(text: string, section: string, start: string, end: string): string {
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${start} … ${end} markers`);
  return text.slice(0, a) + section + text.slice(b + end.length);
}

/** README.md with its `station` and `hq` command tables rendered from these command trees. */
export function renderCommandSections(readme: string, station: Command, hq: Command): string {
  const a = replaceSection(readme, renderCommandTable(station, STATION_COMMANDS_START, STATION_COMMANDS_END), STATION_COMMANDS_START, STATION_COMMANDS_END);
  return replaceSection(a, renderCommandTable(hq, HQ_COMMANDS_START, HQ_COMMANDS_END), HQ_COMMANDS_START, HQ_COMMANDS_END);
}
